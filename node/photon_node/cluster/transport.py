"""Authenticated TCP transport between nodes on the peer port (Raft messages, snapshot streams).

Each node sends over its own outbound connection to each peer and receives on connections the
peers opened. A connection starts with a signed hello exchange (node ids, fresh nonces, protocol
versions) and then carries length-prefixed frames MAC'd with a per-connection session key and
sequence number (auth.StreamSession). Frames to an unreachable peer are dropped, which Raft
tolerates; snapshot frames wait for space instead (a bounded number of frames and bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from photon_node.cluster.auth import AuthError, StreamSession, hello_mac, new_nonce

logger = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
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


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = _LEN.unpack(await reader.readexactly(_LEN.size))
    if size > MAX_FRAME:
        raise AuthError("malformed", f"frame of {size} bytes exceeds the limit")
    return await reader.readexactly(size)


class _Inbound(asyncio.Protocol):
    """An accepted peer connection after its hello: frames are opened and handed to `on_frame`
    from `data_received` itself, in the loop turn that read them (no reader task to wake)."""

    def __init__(
        self, owner: PeerTransport, peer: str, session: StreamSession, socket: asyncio.BaseTransport
    ) -> None:
        self._owner, self._peer, self._session, self._socket = owner, peer, session, socket
        self._chunks: list[bytes] = []  # the unparsed tail of the stream
        self._have = 0  # bytes in _chunks
        self._need = 0  # bytes _chunks must reach before a frame can be parsed again
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self._need:  # a partial frame waits: gather without copying until it is complete
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return
            data, self._chunks, self._have = b"".join(self._chunks), [], 0
        offset, head, on_frame = 0, _LEN.size, self._owner.on_frame
        try:
            while True:
                if len(data) - offset < head:
                    self._need = head
                    break
                (size,) = _LEN.unpack_from(data, offset)
                if size > MAX_FRAME:
                    raise AuthError("malformed", f"frame of {size} bytes exceeds the limit")
                end = offset + head + size
                if end > len(data):
                    self._need = head + size
                    break
                payload = self._session.open(data[offset + head : end])
                if not payload:
                    raise AuthError("malformed", "empty frame")
                offset = end
                on_frame(self._peer, payload[0], payload[1:])
        except AuthError as error:
            self._owner.on_reject(error.reason)
            logger.warning("rejected peer connection from %s: %s", self._peer, error)
            self._socket.close()
            return
        if offset == len(data):
            self._need = 0
        else:
            rest = data[offset:]
            self._chunks, self._have = [rest], len(rest)

    def eof_received(self) -> bool:
        return False  # close

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(_LEN.pack(len(payload)) + payload)


class _Outbound:
    """One outbound connection to a peer. `send` only appends to `pending`; everything sent in
    one turn of the event loop is sealed and written together by `_flush` (one syscall, one
    wake-up of the peer), straight from the caller's turn: no queue, no task switch per frame.
    The connection task connects, says hello, watches for the peer closing, and drains the
    socket when its buffer passes HIGH_WATER (frames then wait in `pending`)."""

    def __init__(self, transport: PeerTransport, peer: str) -> None:
        self.transport = transport
        self.peer = peer
        self.pending: list[tuple[int, bytes]] = []
        self.pending_bytes = 0
        self.connected = False
        self._session_keys: StreamSession | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._scheduled = False
        self._draining = False
        self._drain = asyncio.Event()  # set by _flush when the socket buffer is too full
        self._space = asyncio.Event()  # set when `pending` empties (for send_waiting)
        self.task = asyncio.create_task(self._run(), name=f"peer-{peer}")

    def send(self, kind: int, body: bytes) -> bool:
        if len(self.pending) >= QUEUE_FRAMES:
            return False
        self.pending.append((kind, body))
        self.pending_bytes += len(body)
        if self._writer is not None and not self._scheduled and not self._draining:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return True

    async def send_waiting(self, kind: int, body: bytes) -> None:
        while (
            len(self.pending) >= QUEUE_FRAMES or self.pending_bytes > HIGH_WATER or self._draining
        ):
            self._space.clear()
            await self._space.wait()
        self.send(kind, body)

    def flush(self) -> None:
        """Write what `send` queued in this turn now instead of at its end."""
        if self._scheduled:
            self._flush()

    def _flush(self) -> None:
        self._scheduled = False
        writer, session = self._writer, self._session_keys
        if writer is None or session is None or self._draining or not self.pending:
            return
        if writer.transport.is_closing():
            # The connection is gone but its task has not seen it yet (it will, and redial):
            # what waits is lost with it, as when the connection drops with frames in flight.
            # Writing would raise into the caller, which is the Raft loop.
            self._drop_queued()
            return
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        parts: list[bytes] = []
        for kind, body in pending:
            sealed = session.seal(bytes((kind,)) + body)
            parts += (_LEN.pack(len(sealed)), sealed)
        writer.write(b"".join(parts))
        if writer.transport.get_write_buffer_size() > HIGH_WATER:
            self._draining = True
            self._drain.set()
        else:
            self._space.set()

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            addr = self.transport.resolve(self.peer)
            if addr is None:
                await asyncio.sleep(1.0)
                continue
            try:
                await self._session(addr)
                backoff = 0.05
            except (OSError, asyncio.IncompleteReadError, AuthError, ValueError) as error:
                if self.connected:
                    logger.info("connection to %s (%s) lost: %s", self.peer, addr, error)
                self.connected = False
                self._drop_queued()
                self.transport.on_unreachable(self.peer)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _drop_queued(self) -> None:
        self.pending, self.pending_bytes = [], 0
        self._space.set()

    async def _session(self, addr: str) -> None:
        host, _, port = addr.rpartition(":")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]"), int(port)), HELLO_TIMEOUT
        )
        tune_socket(writer)
        # The peer never writes after its hello answer, so any read completing means it
        # closed (or reset) the connection: watch for that, or a restarted peer (a pod with
        # a new address) would be written to forever through a half-closed socket.
        closed: asyncio.Task | None = None
        try:
            session = await asyncio.wait_for(self._hello(reader, writer), HELLO_TIMEOUT)
            if not self.connected:
                logger.info("connected to peer %s at %s", self.peer, addr)
            self.connected = True
            closed = asyncio.create_task(reader.read(1))
            self._session_keys, self._writer = session, writer
            self._flush()  # what was sent while connecting
            while True:
                drain = asyncio.create_task(self._drain.wait())
                done, _ = await asyncio.wait({drain, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    drain.cancel()
                    raise ConnectionError("the peer closed the connection")
                self._drain.clear()
                await asyncio.wait_for(writer.drain(), DRAIN_TIMEOUT)
                self._draining = False
                self._flush()
        finally:
            self._session_keys = self._writer = None
            self._draining = self._scheduled = False
            if closed is not None:
                closed.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _hello(self, reader, writer) -> StreamSession:
        me = self.transport.identity
        secret = self.transport.secret
        nonce = new_nonce()
        body = {
            "id": me.node_id, "to": self.peer, "nonce": nonce.hex(),
            "protocol": me.protocol, "min_protocol": me.min_protocol,
        }  # fmt: skip
        signed = json.dumps(body, sort_keys=True).encode()
        _write_frame(writer, signed + hello_mac(secret, b"hello", signed))
        await writer.drain()
        frame = await _read_frame(reader)
        raw, mac = frame[:-32], frame[-32:]
        if hello_mac(secret, b"ack", nonce, raw) != mac:
            raise AuthError("bad_mac", f"peer {self.peer} did not prove the cluster secret")
        ack = json.loads(raw)
        if ack.get("error"):
            self.transport.on_reject("protocol")
            raise AuthError("protocol", f"peer {self.peer} refused us: {ack['error']}")
        if ack["id"] != self.peer:
            raise AuthError("identity", f"expected {self.peer} at this address, found {ack['id']}")
        self.transport.peer_protocols[self.peer] = (ack["protocol"], ack["min_protocol"])
        return StreamSession(secret, True, nonce, bytes.fromhex(ack["nonce"]))


class PeerTransport:
    def __init__(
        self,
        identity: Identity,
        secret: bytes | None,
        resolve: Callable[[str], str | None],
        on_frame: Callable[[str, int, bytes], None],
        on_reject: Callable[[str], None] = lambda reason: None,
        on_unreachable: Callable[[str], None] = lambda peer: None,
    ) -> None:
        self.identity = identity
        self.secret = secret
        self.resolve = resolve
        self.on_frame = on_frame
        self.on_reject = on_reject
        self.on_unreachable = on_unreachable
        self.peer_protocols: dict[str, tuple[int, int]] = {}
        self._out: dict[str, _Outbound] = {}
        self._server: asyncio.base_events.Server | None = None
        self._inbound: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for out in self._out.values():
            out.task.cancel()
        for task in list(self._inbound):
            task.cancel()
        tasks = [o.task for o in self._out.values()] + list(self._inbound)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._out.clear()

    def send(self, peer: str, kind: int, body: bytes) -> bool:
        """Send a frame (written at the end of this loop turn with the others); False (and
        dropped) if too many frames wait for this peer or no secret is set."""
        if self.secret is None or peer == self.identity.node_id:
            return False
        out = self._out.get(peer) or self._out.setdefault(peer, _Outbound(self, peer))
        return out.send(kind, body)

    def flush(self) -> None:
        """Write the frames sent so far now rather than at the end of this loop turn."""
        for out in self._out.values():
            out.flush()

    async def send_waiting(self, peer: str, kind: int, body: bytes) -> None:
        """Queue a frame, waiting for space (snapshot streams)."""
        if self.secret is None:
            raise ConnectionError("no cluster secret configured")
        out = self._out.get(peer) or self._out.setdefault(peer, _Outbound(self, peer))
        await out.send_waiting(kind, body)

    def forget(self, peer: str) -> None:
        out = self._out.pop(peer, None)
        if out is not None:
            out.task.cancel()

    def connected(self, peer: str) -> bool:
        out = self._out.get(peer)
        return bool(out and out.connected)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inbound.add(task)
        peer = "?"
        tune_socket(writer)
        try:
            session, peer = await asyncio.wait_for(
                self._answer_hello(reader, writer), HELLO_TIMEOUT
            )
            # From here on frames are read by _Inbound.data_received in the turn that reads
            # them. The dialer waits for our answer before sending, so nothing is buffered.
            inbound = _Inbound(self, peer, session, writer.transport)
            writer.transport.set_protocol(inbound)
            await inbound.closed
        except AuthError as error:
            self.on_reject(error.reason)
            logger.warning("rejected peer connection from %s: %s", peer, error)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, KeyError):
            pass
        finally:
            self._inbound.discard(task)
            writer.close()

    async def _answer_hello(self, reader, writer) -> tuple[StreamSession, str]:
        frame = await _read_frame(reader)
        if self.secret is None:
            raise AuthError("unsigned", "this node has no cluster secret; it accepts no peers")
        raw, mac = frame[:-32], frame[-32:]
        if hello_mac(self.secret, b"hello", raw) != mac:
            raise AuthError("bad_mac", "hello signature does not verify (wrong cluster secret?)")
        hello = json.loads(raw)
        me = self.identity
        peer_nonce = bytes.fromhex(hello["nonce"])
        nonce = new_nonce()
        body: dict = {"id": me.node_id, "nonce": nonce.hex(), "protocol": me.protocol,
                      "min_protocol": me.min_protocol}  # fmt: skip
        error = None
        if hello["to"] != me.node_id:
            error = f"this is node {me.node_id}, not {hello['to']}"
        elif not compatible(me.protocol, me.min_protocol, hello["protocol"], hello["min_protocol"]):
            error = (
                f"incompatible protocol: {hello['id']} speaks {hello['min_protocol']}-"
                f"{hello['protocol']}, this node {me.min_protocol}-{me.protocol}"
            )
        if error:
            body["error"] = error
        signed = json.dumps(body, sort_keys=True).encode()
        _write_frame(writer, signed + hello_mac(self.secret, b"ack", peer_nonce, signed))
        await writer.drain()
        if error:
            raise AuthError("protocol" if "protocol" in error else "identity", error)
        self.peer_protocols[hello["id"]] = (hello["protocol"], hello["min_protocol"])
        return StreamSession(self.secret, False, nonce, peer_nonce), hello["id"]
