"""Every option of photon-node, declared once: name, parser, default and help. The flags, the
PHOTON_* environment variables, the accepted file keys and the README reference table are all
derived from OPTIONS."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photon_common import contract
from photon_node.core.values import HostPort, parse_host_port


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer, got {value!r}")
        number = int(str(value).strip(), 0) if isinstance(value, str) else int(value)
        if number != value and not isinstance(value, str):
            raise ValueError(f"expected an integer, got {value!r}")
        if not low <= number <= high:
            raise ValueError(f"{number} is outside {low}-{high}")
        return number

    return parse


def _float_range(low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is outside {low}-{high}")
        return number

    return parse


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _node_id(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", text):
        raise ValueError(
            f"{text!r} is not a node id (1-63 characters of letters, digits, '.', '_', '-')"
        )
    return text


def _initial_cluster(value: Any) -> tuple[tuple[str, str], ...]:
    text = ",".join(value) if isinstance(value, list | tuple) else str(value)
    members: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        node_id, sep, addr = part.partition("=")
        if not sep:
            raise ValueError(f"expected id=host:port, got {part!r}")
        node_id = _node_id(node_id)
        if node_id in members:
            raise ValueError(f"node {node_id!r} is listed twice")
        members[node_id] = str(parse_host_port(addr))
    return tuple(sorted(members.items()))


def _addr_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(parse_host_port(str(item))) for item in items if str(item).strip())


def _optional_host_port(value: Any) -> HostPort | None:
    return None if value in (None, "") else parse_host_port(str(value))


def _optional_text(value: Any) -> str:
    return "" if value is None else str(value)


def _path(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return os.path.abspath(text)


def _host_port(value: Any) -> HostPort:
    return parse_host_port(str(value))


@dataclass(frozen=True)
class Option:
    name: str
    parse: Callable[[Any], Any]
    default: Callable[[], Any] | Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return contract.ENV_PREFIX + self.name.upper()


MIB = 1024 * 1024
OPTIONS: tuple[Option, ...] = (
    Option("node_id", _node_id, socket.gethostname, "Unique id of this node (default: hostname)."),
    Option("data_dir", _path, "photon-data", "Directory holding the node's RocksDB data."),
    Option("listen", _host_port, f"0.0.0.0:{contract.CLIENT_PORT}", "Client HTTP API address."),
    Option("peer_listen", _host_port, f"0.0.0.0:{contract.PEER_PORT}", "Peer (cluster) address."),
    Option(
        "advertise_client",
        _optional_host_port,
        None,
        "Client address other nodes forward to (default: hostname and the listen port).",
    ),
    Option(
        "advertise_peer",
        _optional_host_port,
        None,
        "Peer address other nodes reach (default: hostname and the peer-listen port).",
    ),
    Option(
        "role",
        _choice(*contract.ROLES),
        contract.ROLE_DATA,
        "Node role: data (stores, votes), observer (read-only learner), coordinator (routes).",
    ),
    Option(
        "initial_cluster",
        _initial_cluster,
        "",
        "Static bootstrap: id=host:peerport,... of the first voters (this node among them).",
    ),
    Option(
        "join",
        _addr_list,
        "",
        "host:peerport of running members to join through (repeatable; DNS names allowed).",
    ),
    Option(
        "cluster_secret",
        _optional_text,
        "",
        "Shared secret authenticating peer traffic (prefer the env var or the file option).",
    ),
    Option(
        "cluster_secret_file",
        _optional_text,
        "",
        "File holding the cluster secret.",
    ),
    Option(
        "max_voters",
        _int_range(1, 9),
        contract.DEFAULT_MAX_VOTERS,
        "Most voting members; further data nodes stay learners until needed.",
    ),
    Option(
        "protocol_version",
        _int_range(contract.MIN_PROTOCOL_VERSION, contract.PROTOCOL_VERSION),
        contract.PROTOCOL_VERSION,
        "Newest protocol this node speaks (pin lower during a rolling upgrade).",
    ),
    Option(
        "min_protocol_version",
        _int_range(contract.MIN_PROTOCOL_VERSION, contract.PROTOCOL_VERSION),
        contract.MIN_PROTOCOL_VERSION,
        "Oldest protocol this node accepts from peers (raise to finalise an upgrade).",
    ),
    Option(
        "raft_tick_ms",
        _int_range(10, 1000),
        100,
        "Raft tick; heartbeats go out every tick.",
    ),
    Option(
        "snapshot_entries",
        _int_range(50, 10_000_000),
        10000,
        "Applied entries kept in the Raft log before it is compacted (lagging or new members "
        "then catch up from a snapshot).",
    ),
    Option(
        "election_ticks",
        _int_range(3, 100),
        10,
        "Ticks without a leader before an election (randomised up to twice that).",
    ),
    Option(
        "max_value_bytes",
        _int_range(1, 64 * MIB),
        contract.DEFAULT_MAX_VALUE_BYTES,
        "Largest value accepted by PUT, in bytes.",
    ),
    Option(
        "max_scan_limit",
        _int_range(1, 10000),
        contract.MAX_SCAN_LIMIT,
        "Largest `limit` accepted by a scan.",
    ),
    Option(
        "group_commit_max_ops",
        _int_range(1, 100000),
        1024,
        "Most proposals appended to the log per Ready, hence made durable by one fsync.",
    ),
    Option(
        "raft_rounds_in_flight",
        _int_range(0, 1024),
        1,
        "Replication rounds the leader keeps uncommitted at once; proposals arriving meanwhile "
        "wait and go out together as the next round. 0: no bound (a round per Ready).",
    ),
    Option(
        "raft_round_linger_ms",
        _float_range(0, 100),
        5.0,
        "Longest time (ms, after a round commits) the leader waits to start the next round "
        "while fewer proposals wait than the last round carried; never longer than twice what "
        "that round took. 0: start at once.",
    ),
    Option(
        "shutdown_timeout",
        _float_range(0.1, 600),
        20.0,
        "Seconds SIGTERM waits for in-flight requests before closing.",
    ),
    Option(
        "read_mode",
        _choice("lease", "readindex"),
        "lease",
        "How the leader confirms a linearizable read: a lease kept by heartbeats (no extra "
        "round trip; scaled to the shortest election timeout among the members that "
        "answer) or a heartbeat round per batch of reads (ReadIndex).",
    ),
    Option(
        "cpu_scheduling",
        _choice("batch", "normal"),
        "batch",
        "Linux scheduling policy of the process: batch (SCHED_BATCH: not favoured on wake-up, so a "
        "busy node is not preempted for every packet; fewer context switches) or normal.",
    ),
    Option(
        "event_loop",
        _choice("uvloop", "asyncio"),
        "uvloop",
        "Event loop implementation (uvloop roughly halves the loop's own cost per request).",
    ),
    Option("log_level", _choice("debug", "info", "warning", "error"), "info", "Logging threshold."),
    Option("log_format", _choice("text", "json"), "text", "Log line format."),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


def reference_table() -> str:
    """The Markdown table of options used in README.md."""
    rows = ["| option | flag | environment | default | meaning |", "|---|---|---|---|---|"]
    for option in OPTIONS:
        if callable(option.default):
            default = "hostname"
        elif option.default in (None, ""):
            default = "unset"
        else:
            default = f"`{option.default}`"
        rows.append(
            f"| `{option.name}` | `{option.flag}` | `{option.env}` | {default} | {option.help} |"
        )
    return "\n".join(rows)
