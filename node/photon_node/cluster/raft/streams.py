"""Snapshot streams between peers, beside the Raft loop.

A leader whose follower needs entries it has compacted away sends a SNAPSHOT message; the driver
hands it here and a sender task streams the state as SNAP_BEGIN (the revision and the encoded
message), SNAP_CHUNK frames and SNAP_END over the peer transport, then reports the outcome to
the core. On the receiving side the chunks are staged into the unused generation of the key
space (storage/snapshots.py) while the Raft loop goes on; only when SNAP_END arrives is the
SNAPSHOT message delivered to the loop, with what was staged, for the core to accept or refuse.

A stream that the core would not accept when it begins is still drained but not staged (its
data is discarded); if the core would accept it by the time it ends, the message is dropped
and the leader resends, since an install needs the data. A new SNAP_BEGIN from the same peer
cancels the stream before it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from photon_node.cluster.raft import codec
from photon_node.cluster.transport import FrameType, PeerTransport
from photon_node.core.rafttypes import Message
from photon_node.storage import snapshots
from photon_node.storage.engine import Engine

logger = logging.getLogger(__name__)

_U64 = struct.Struct(">Q")
SNAPSHOT_TIMEOUT = 600.0


@dataclass
class _Incoming:
    message: Message
    revision: int
    staged: bool
    queue: asyncio.Queue
    task: asyncio.Task | None = None


class SnapshotStreams:
    """`accepts(message)`: would the core install this snapshot now. `deliver(message, staged)`:
    a complete stream, with (index, revision) when its data was staged. `report(peer, ok)`: a
    stream this node sent ended."""

    def __init__(
        self,
        engine: Engine,
        transport: Callable[[], PeerTransport | None],
        accepts: Callable[[Message], bool],
        deliver: Callable[[Message, tuple[int, int] | None], None],
        report: Callable[[str, bool], None],
    ) -> None:
        self.engine = engine
        self._transport, self._accepts, self._deliver, self._report = (
            transport, accepts, deliver, report,
        )  # fmt: skip
        self._incoming: dict[str, _Incoming] = {}
        self._senders: set[asyncio.Task] = set()

    async def close(self) -> None:
        tasks = [*self._senders, *(i.task for i in self._incoming.values() if i.task)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- receiving -----------------------------------------------------------------------------
    def on_frame(self, peer: str, kind: int, body: bytes) -> None:
        if kind == FrameType.SNAP_BEGIN:
            self._begin(peer, body)
            return
        incoming = self._incoming.get(peer)
        if incoming is not None:
            incoming.queue.put_nowait((kind, body))

    def _begin(self, peer: str, body: bytes) -> None:
        old = self._incoming.pop(peer, None)
        if old and old.task:
            old.task.cancel()
        try:
            (revision,) = _U64.unpack_from(body)
            message = codec.decode(body[_U64.size :])
        except (struct.error, codec.CodecError):
            return
        incoming = _Incoming(message, revision, self._accepts(message), asyncio.Queue())
        incoming.task = asyncio.create_task(self._receive(peer, incoming))
        self._incoming[peer] = incoming

    async def _receive(self, peer: str, incoming: _Incoming) -> None:
        if incoming.staged:
            await asyncio.to_thread(snapshots.stage_begin, self.engine)
        while True:
            kind, body = await incoming.queue.get()
            if kind == FrameType.SNAP_END:
                break
            if incoming.staged:
                await asyncio.to_thread(snapshots.stage_chunk, self.engine, body)
        if self._incoming.get(peer) is incoming:
            del self._incoming[peer]
        snap = incoming.message.snapshot
        assert snap is not None
        if self._accepts(incoming.message) and not incoming.staged:
            return  # it became installable mid-stream without data; the leader will resend
        staged = (snap.index, incoming.revision) if incoming.staged else None
        self._deliver(incoming.message, staged)

    # -- sending -------------------------------------------------------------------------------
    def send(self, message: Message) -> None:
        task = asyncio.create_task(self._send(message))
        self._senders.add(task)
        task.add_done_callback(self._senders.discard)

    async def _send(self, message: Message) -> None:
        reader = snapshots.SnapshotReader(self.engine)  # now, before anything else is applied
        assert message.snapshot is not None and reader.index == message.snapshot.index
        transport = self._transport()
        assert transport is not None
        peer = message.dst
        ok = False
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                head = _U64.pack(reader.revision) + codec.encode(message)
                await transport.send_waiting(peer, FrameType.SNAP_BEGIN, head)
                chunks = reader.chunks()
                while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                    await transport.send_waiting(peer, FrameType.SNAP_CHUNK, chunk)
                await transport.send_waiting(peer, FrameType.SNAP_END, b"")
                ok = True
                logger.info("sent snapshot at index %d to %s", reader.index, peer)
        except (TimeoutError, ConnectionError, OSError) as error:
            logger.warning("snapshot to %s failed: %s", peer, error)
        finally:
            reader.close()
            self._report(peer, ok)
