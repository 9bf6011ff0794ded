"""The node's one typed settings object, loaded as defaults -> YAML file -> PHOTON_* env -> flags.

Every option is declared once in OPTIONS (options.py: name, parser, default, help); the flags,
the environment variable names, the accepted file keys and the README reference table are all
derived from it. An invalid value stops the process with a message naming the option and where
it came from.
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from photon_common import contract
from photon_node.core.options import OPTIONS, OPTIONS_BY_NAME, reference_table
from photon_node.core.values import ConfigError, HostPort, parse_host_port

__all__ = ["ConfigError", "HostPort", "Settings", "load", "parse_host_port", "reference_table"]


@dataclass(frozen=True)
class Settings:
    node_id: str
    data_dir: str
    listen: HostPort
    peer_listen: HostPort
    advertise_client: HostPort | None
    advertise_peer: HostPort | None
    role: str
    initial_cluster: tuple[tuple[str, str], ...]
    join: tuple[str, ...]
    cluster_secret: str
    cluster_secret_file: str
    max_voters: int
    protocol_version: int
    min_protocol_version: int
    raft_tick_ms: int
    snapshot_entries: int
    election_ticks: int
    max_value_bytes: int
    max_scan_limit: int
    group_commit_max_ops: int
    raft_rounds_in_flight: int
    raft_round_linger_ms: float
    shutdown_timeout: float
    read_mode: str
    cpu_scheduling: str
    event_loop: str
    log_level: str
    log_format: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, HostPort):
                value = str(value)
            elif isinstance(value, tuple):
                value = [f"{v[0]}={v[1]}" if isinstance(v, tuple) else v for v in value]
            if field.name == "cluster_secret" and value:
                value = "<redacted>"
            out[field.name] = value
        return out

    @property
    def client_addr(self) -> str:
        return str(self.advertise_client or _advertised(self.listen))

    @property
    def peer_addr(self) -> str:
        return str(self.advertise_peer or _advertised(self.peer_listen))

    def secret(self) -> bytes | None:
        """The cluster secret (from the file if set, else the value); None when unset."""
        if self.cluster_secret_file:
            with open(self.cluster_secret_file, "rb") as handle:
                return handle.read().strip() or None
        return self.cluster_secret.encode() or None


def _advertised(address: HostPort) -> HostPort:
    if address.host in ("0.0.0.0", "::"):
        return HostPort(socket.getfqdn(), address.port)
    return address


def build_parser(prog: str = "photon-node") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="PhotonDB storage node.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", help="YAML file with options (keys as below, '_' or '-').")
    repeatable = {"join", "initial_cluster"}
    parser.add_argument("--version", action="store_true", help="Print the version and exit.")
    parser.add_argument(
        "--print-config", action="store_true", help="Print the effective settings and exit."
    )
    for option in OPTIONS:
        action = "append" if option.name in repeatable else "store"
        parser.add_argument(
            option.flag, dest=option.name, action=action, help=f"{option.help} [{option.env}]"
        )
    return parser


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError("config", f"flag --config={path}", f"cannot read: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError("config", f"file {path}", f"invalid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"file {path}", "must be a mapping of option names to values")
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in OPTIONS_BY_NAME:
            raise ConfigError(str(key), f"file {path}", "unknown option")
        values[name] = value
    return values


def load(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[Settings, argparse.Namespace]:
    """Resolve settings from defaults, file, environment and flags; raise ConfigError if invalid."""
    args = build_parser().parse_args(list(argv))
    raw: dict[str, tuple[Any, str]] = {}
    config_path = getattr(args, "config", None) or environ.get(contract.ENV_PREFIX + "CONFIG")
    if config_path:
        for name, value in _read_file(config_path).items():
            raw[name] = (value, f"file {config_path}")
    for option in OPTIONS:
        if option.env in environ:
            raw[option.name] = (environ[option.env], f"environment {option.env}")
        if option.name in vars(args):
            raw[option.name] = (getattr(args, option.name), f"flag {option.flag}")
    values = {}
    for option in OPTIONS:
        if option.name in raw:
            value, source = raw[option.name]
        else:
            default = option.default
            value, source = (default() if callable(default) else default), "default"
        try:
            values[option.name] = option.parse(value)
        except (ValueError, TypeError) as error:
            raise ConfigError(option.name, source, str(error)) from error
    settings = Settings(**values)
    _check(settings)
    return settings, args


def _check(settings: Settings) -> None:
    if settings.listen == settings.peer_listen:
        raise ConfigError("peer_listen", "settings", "must differ from 'listen'")
    if settings.min_protocol_version > settings.protocol_version:
        raise ConfigError("min_protocol_version", "settings", "must not exceed protocol_version")
    ids = dict(settings.initial_cluster)
    if ids and settings.node_id not in ids:
        raise ConfigError(
            "initial_cluster", "settings", f"does not list this node ({settings.node_id!r})"
        )
    if ids and settings.role != contract.ROLE_DATA:
        raise ConfigError("initial_cluster", "settings", "only data nodes bootstrap a cluster")
    if settings.cluster_secret_file:
        try:
            secret = settings.secret()
        except OSError as error:
            raise ConfigError("cluster_secret_file", "settings", f"cannot read: {error}") from error
    else:
        secret = settings.secret()
    if (len(ids) > 1 or settings.join) and not secret:
        raise ConfigError(
            "cluster_secret",
            "settings",
            "required when the cluster has more than one member "
            "(PHOTON_CLUSTER_SECRET or --cluster-secret-file)",
        )
    if secret is not None and len(secret) < 16:
        raise ConfigError("cluster_secret", "settings", "must be at least 16 bytes")
