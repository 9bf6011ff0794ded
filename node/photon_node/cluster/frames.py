"""The peer port's framing and handshake facts, shared by both directions of a connection:
length-prefixed frames, their types and limits, a node's protocol identity, socket tuning."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass

from photon_node.cluster.auth import AuthError

LEN = struct.Struct(">I")
MAX_FRAME = 64 << 20
HELLO_TIMEOUT = 5.0
QUEUE_FRAMES = 4096  # frames waiting for a connection or a drain; more are dropped
HIGH_WATER = 4 << 20  # bytes in the socket's buffer before writes wait for a drain
DRAIN_TIMEOUT = 10.0


def tune_socket(writer: asyncio.StreamWriter) -> None:
    """Keepalive and a bound on unacknowledged data, so a peer that vanished without closing
    (its address is gone) is noticed in seconds, not after the kernel's 15-minute retries."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3),
                        ("TCP_USER_TIMEOUT", 10_000), ("TCP_NODELAY", 1)):  # fmt: skip
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, option, value in options:
        with contextlib.suppress(OSError):
            sock.setsockopt(level, option, value)


class FrameType:
    RAFT = 1
    SNAP_BEGIN = 2
    SNAP_CHUNK = 3
    SNAP_END = 4


@dataclass(frozen=True)
class Identity:
    node_id: str
    protocol: int
    min_protocol: int


def compatible(a_protocol: int, a_min: int, b_protocol: int, b_min: int) -> bool:
    return a_protocol >= b_min and b_protocol >= a_min


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = LEN.unpack(await reader.readexactly(LEN.size))
    if size > MAX_FRAME:
        raise AuthError("malformed", f"frame of {size} bytes exceeds the limit")
    return await reader.readexactly(size)


def write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(LEN.pack(len(payload)) + payload)
