"""GossipEndpoint: the authenticated UDP socket of gossip, and its non-blocking DNS.

Every datagram sent is a codec payload sealed by DatagramAuth; every datagram received is opened
(rejecting unsigned, forged, stale, replayed) and decoded (rejecting malformed) before the message
reaches the service. Rejections go to on_reject(reason) and are logged once per (reason, source)
at WARNING, then only counted. Peer names are resolved with loop.getaddrinfo and cached, so a
send never blocks the event loop on DNS; frames wait (bounded) for their name to resolve.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable

from photon_node.cluster.auth import AuthError, DatagramAuth
from photon_node.cluster.gossip import codec
from photon_node.cluster.gossip.model import Message

logger = logging.getLogger(__name__)

RESOLVE_TTL = 5.0  # a restarted pod comes back under a new IP: re-resolve soon
MAX_PENDING_FRAMES = 256
MAX_WARNED_SOURCES = 1024
Handler = Callable[[str, Message], None]


def split_addr(addr: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError if it is neither."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {addr!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def join_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: GossipEndpoint) -> None:
        self.endpoint = endpoint
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.endpoint.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("gossip socket error: %s", exc)  # e.g. ICMP port unreachable from a peer

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class GossipEndpoint:
    def __init__(
        self, secret: bytes, handler: Handler, on_reject: Callable[[str], None] | None = None
    ) -> None:
        self._auth = DatagramAuth(secret)  # ValueError without a secret
        self._handler = handler
        self._on_reject = on_reject
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Protocol | None = None
        self.family = socket.AF_INET
        self._resolved: dict[str, tuple[float, str]] = {}  # host -> (expires, ip)
        self._pending: dict[str, list[tuple[bytes, int]]] = {}  # host -> frames awaiting DNS
        self._resolving: dict[str, asyncio.Task] = {}
        self._warned: set[tuple[str, str]] = set()

    async def open(self, bind: tuple[str, int]) -> tuple[str, int]:
        """Bind the socket; returns the bound (host, port), the real port if 0 was asked."""
        loop = asyncio.get_running_loop()
        self._transport, self._protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=bind
        )
        self.family = self._transport.get_extra_info("socket").family
        return self._transport.get_extra_info("sockname")[:2]

    async def close(self, flush_timeout: float = 1.0) -> None:
        if self._resolving:  # let frames queued for named peers (LEAVEs) go out, briefly
            await asyncio.wait(list(self._resolving.values()), timeout=flush_timeout)
        for task in list(self._resolving.values()):
            task.cancel()
        if self._transport is not None and self._protocol is not None:
            self._transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._protocol.closed), flush_timeout)
        self._transport = None

    async def lookup(self, host: str, port: int) -> list[str]:
        """All addresses of host (of the socket's family), as 'ip:port' strings."""
        if is_ip(host):
            return [join_addr(host, port)]
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=self.family, type=socket.SOCK_DGRAM
        )
        return list(dict.fromkeys(join_addr(*info[4][:2]) for info in infos))

    # -- receiving ----------------------------------------------------------------------------
    def received(self, data: bytes, addr: tuple) -> None:
        try:
            payload = self._auth.open(data)
        except AuthError as error:
            if _is_bare_message(error.reason, data):
                self._reject("unsigned", addr, "a gossip message without a signature")
            else:
                self._reject(error.reason, addr, str(error))
            return
        try:
            message = codec.decode(payload)
        except codec.CodecError as error:
            self._reject("malformed", addr, str(error))
            return
        src = join_addr(*addr[:2])
        try:
            self._handler(src, message)
        except Exception:  # a bug must not close the socket (asyncio would)
            logger.exception("gossip: failed to handle a %s from %s", type(message).__name__, src)

    def _reject(self, reason: str, addr: tuple, detail: str) -> None:
        if self._on_reject is not None:
            self._on_reject(reason)
        key = (reason, str(addr[0]))
        if key in self._warned or len(self._warned) >= MAX_WARNED_SOURCES:
            logger.debug("gossip frame rejected reason=%s from=%s: %s", reason, addr[0], detail)
            return
        self._warned.add(key)
        logger.warning(
            "gossip frame rejected reason=%s from=%s: %s (more from there: counted, not logged)",
            reason, addr[0], detail,
        )  # fmt: skip

    # -- sending ------------------------------------------------------------------------------
    def send(self, addr: str, message: Message) -> None:
        if self._transport is None:
            return
        try:
            host, port = split_addr(addr)
        except ValueError:
            logger.debug("gossip: cannot send to malformed address %r", addr)
            return
        frames = [self._auth.seal(payload) for payload in codec.encode(message)]
        if is_ip(host):
            self._sendto(frames, host, port)
            return
        cached = self._resolved.get(host)
        if cached is not None and cached[0] > asyncio.get_running_loop().time():
            self._sendto(frames, cached[1], port)
            return
        queue = self._pending.setdefault(host, [])
        queue += [(frame, port) for frame in frames][: MAX_PENDING_FRAMES - len(queue)]
        if host not in self._resolving:
            self._resolving[host] = asyncio.create_task(self._resolve(host, port))

    def _sendto(self, frames: list[bytes], host: str, port: int) -> None:
        if self._transport is not None:
            for frame in frames:
                self._transport.sendto(frame, (host, port))

    async def _resolve(self, host: str, port: int) -> None:
        try:
            addrs = await self.lookup(host, port)
            if addrs:
                expires = asyncio.get_running_loop().time() + RESOLVE_TTL
                self._resolved[host] = (expires, split_addr(addrs[0])[0])
        except OSError as error:
            logger.debug("gossip: peer host %s does not resolve: %s", host, error)
        finally:
            self._resolving.pop(host, None)
            frames = self._pending.pop(host, [])
        cached = self._resolved.get(host)
        if cached is not None:
            for frame, frame_port in frames:
                self._sendto([frame], cached[1], frame_port)


def _is_bare_message(reason: str, data: bytes) -> bool:
    """A frame that parses as a gossip message as it stands was simply never signed."""
    if reason not in ("malformed", "bad_mac"):
        return False
    try:
        codec.decode(data)
    except codec.CodecError:
        return False
    return True
