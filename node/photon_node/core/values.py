"""Value types and errors of the node's settings: a host and port, and the error naming an
invalid option and where its value came from."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass


class ConfigError(Exception):
    """An option has an invalid value; the message names the option and its source."""

    def __init__(self, option: str, source: str, message: str) -> None:
        super().__init__(f"option '{option}' (from {source}): {message}")
        self.option = option
        self.source = source


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_host_port(text: str) -> HostPort:
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^\s:\[\]]+):(\d{1,5})", text.strip())
    if not match:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    if match.group(1):
        ipaddress.IPv6Address(host)
    elif not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", host):
        raise ValueError(f"invalid host {host!r}")
    return HostPort(host, port)
