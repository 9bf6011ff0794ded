"""The sending side: one outbound connection per peer, which dials, says hello and writes
everything sent to that peer in one loop turn at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from photon_node.cluster.auth import AuthError, StreamSession, hello_mac, new_nonce
from photon_node.cluster.frames import (
    DRAIN_TIMEOUT,
    HELLO_TIMEOUT,
    HIGH_WATER,
    LEN,
    QUEUE_FRAMES,
    read_frame,
    tune_socket,
    write_frame,
)

if TYPE_CHECKING:
    from photon_node.cluster.transport import PeerTransport

logger = logging.getLogger(__name__)


class Outbound:
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
            parts += (LEN.pack(len(sealed)), sealed)
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
        write_frame(writer, signed + hello_mac(secret, b"hello", signed))
        await writer.drain()
        frame = await read_frame(reader)
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
