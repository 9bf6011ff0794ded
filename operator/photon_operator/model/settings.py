"""The operator's one typed settings object, read once from PHOTON_OPERATOR_* variables.

Every option is declared once in OPTIONS (name, parser, default, help); the chart documents the
same names. An invalid value raises SettingsError naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "PHOTON_OPERATOR_"


class SettingsError(ValueError):
    pass


def _names(text: str) -> tuple[str, ...]:
    return tuple(sorted({n.strip() for n in text.split(",") if n.strip()}))


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise ValueError("must be positive")
        return value

    return parse


OPTIONS: tuple[tuple[str, Callable[[str], Any], str, str], ...] = (
    ("namespaces", _names, "", "Comma-separated namespaces to watch; empty = cluster-wide."),
    ("default_repository", str, "photondb/node", "Node image repository when spec.image is unset."),
    ("node_access", _choice("direct", "proxy"), "direct", "Reach nodes by pod IP or API proxy."),
    ("resync_seconds", _positive(float), "30", "Idle resync period of every cluster."),
    ("active_seconds", _positive(float), "5", "Resync period while an operation runs."),
    ("node_timeout_seconds", _positive(float), "5", "Timeout of one call to a node."),
    ("metrics_port", _positive(int), "9090", "Port of the operator's Prometheus metrics."),
    ("health_port", _positive(int), "8080", "Port of the liveness endpoint (/healthz)."),
    ("watch_server_timeout", _positive(int), "270", "Seconds the API server keeps a watch."),
    ("watch_client_timeout", _positive(int), "300", "Seconds before the client drops a watch."),
    ("log_format", _choice("text", "json"), "text", "Log line format."),
    ("log_level", _choice("debug", "info", "warning", "error"), "info", "Logging threshold."),
)


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...]
    default_repository: str
    node_access: str
    resync_seconds: float
    active_seconds: float
    node_timeout_seconds: float
    metrics_port: int
    health_port: int
    watch_server_timeout: int
    watch_client_timeout: int
    log_format: str
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values = {}
        for name, parse, default, _help in OPTIONS:
            env = PREFIX + name.upper()
            text = environ.get(env, default)
            try:
                values[name] = parse(text)
            except ValueError as error:
                raise SettingsError(f"{env}={text!r}: {error}") from error
        return cls(**values)
