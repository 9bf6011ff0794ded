"""Drives a RaftCore with real time, RocksDB persistence, the peer transport and the state
machine; the Log the rest of the node writes through.

One loop task owns the core. Each turn it feeds the core what arrived (ticks, messages,
proposals, read requests), then handles every Ready in order: persist (fsync) hard state and
entries, send messages, apply committed entries, release reads, advance. Proposals that arrive
while a Ready is being persisted queue up and go into the next one, so batching is natural.
The calls the node makes (writes, membership changes, read points, transfers) are in
requests.py, mixed in.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque
from collections.abc import Callable

from photon_node.cluster.raft import codec
from photon_node.cluster.raft.admission import Admission
from photon_node.cluster.raft.callers import Callers, fail
from photon_node.cluster.raft.core import NotLeader, RaftCore, RaftOptions, Role
from photon_node.cluster.raft.errors import NotLeaderError, OutcomeUnknown
from photon_node.cluster.raft.requests import Requests
from photon_node.cluster.raft.rounds import RoundGate
from photon_node.cluster.raft.streams import SnapshotStreams
from photon_node.cluster.raft.worker import StorageWorker
from photon_node.cluster.transport import FrameType, PeerTransport
from photon_node.core.errors import Unavailable
from photon_node.core.metrics import NodeMetrics
from photon_node.core.rafttypes import Config, Message, MsgType, SnapshotMeta
from photon_node.storage.engine import Engine
from photon_node.storage.raftstore import RaftStore

logger = logging.getLogger(__name__)

_U64 = struct.Struct(">Q")
_LEADER_MESSAGES = frozenset({MsgType.APPEND, MsgType.HEARTBEAT})


class RaftDriver(Requests):
    def __init__(
        self,
        node_id: str,
        engine: Engine,
        store: RaftStore,
        metrics: NodeMetrics,
        options: RaftOptions | None = None,
        tick_seconds: float = 0.1,
        compact_threshold: int = 10000,
        compact_keep: int = 2000,
        request_timeout: float = 10.0,
        max_batch: int = 1024,
        rounds_in_flight: int = 1,
        round_linger: float = 0.005,
    ) -> None:
        self.request_timeout = request_timeout
        self.id = node_id
        self.engine = engine
        self.store = store
        self.metrics = metrics
        self.options = options or RaftOptions()
        self.tick_seconds = tick_seconds
        self.compact_threshold = compact_threshold
        self.compact_keep = compact_keep
        self.transport: PeerTransport | None = None
        self.core: RaftCore | None = None
        self.on_config: Callable[[Config], None] = lambda config: None
        self._inbox: deque[Message] = deque()
        self.callers = Callers(node_id, metrics)  # who waits on the loop (see callers.py)
        self._request_seq = time.time_ns()  # unique across restarts of this node
        self._staged: tuple[int, int] | None = None  # (snapshot index, revision) ready to install
        self._ticks = 0
        self._read_seq = 0
        self._wake = asyncio.Event()
        self._admission = Admission(  # proposals: forwarded, held, appended (see admission.py)
            RoundGate(rounds_in_flight, round_linger), max_batch, self._send_now, self._wake.set
        )
        self._tasks: list[asyncio.Task] = []
        self._streams = SnapshotStreams(
            engine,
            transport=lambda: self.transport,
            accepts=lambda message: self._core().accepts_snapshot(message),
            deliver=self._snapshot_arrived,
            report=self._snapshot_sent,
        )
        self._was_leader = False
        self._known_leader = ""
        self._synced_vote: tuple[int, str, int | None] = (-1, "", None)
        self._stopping = False
        self.failure: BaseException | None = None
        self._storage: StorageWorker | None = None  # the fsync thread, from start() on
        self._lag_peers: tuple[str, ...] = ()
        self._lag_gauges: list = []

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, bootstrap: Config | None, withhold_votes: bool = False) -> None:
        hard, snap, entries = await asyncio.to_thread(self.store.load)
        if bootstrap is not None and hard.term == 0 and snap.index == 0 and not entries:
            snap = SnapshotMeta(0, 0, bootstrap)
            await asyncio.to_thread(self.store.compact, snap)
        applied = max(self.engine.applied, snap.index)
        seed = hash((self.id, time.time_ns()))
        self.core = RaftCore(
            self.id, hard, snap, entries, applied, random.Random(seed), self.options
        )
        if withhold_votes and not entries and snap.index == 0 and hard.vote_floor is None:
            self.core.vote_floor = 0  # persisted with the first Ready
        self._last_config = self.core.log.config
        self.on_config(self._last_config)
        if self.core.log.config.voters == {self.id}:
            self.core.campaign(pre=False)  # the only voter: no one to wait for
        self._storage = StorageWorker()
        self._tasks = [
            asyncio.create_task(self._run(), name="raft-loop"),
            asyncio.create_task(self._tick_loop(), name="raft-ticks"),
        ]

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not self._tasks[0].done()

    async def close(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, self._streams.close(), return_exceptions=True)
        if self._storage is not None:
            await self._storage.close()  # a write it is doing completes before the engine closes
        self._fail_all(Unavailable("the node is shutting down"))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            self._ticks += 1
            self._wake.set()

    def _core(self) -> RaftCore:
        if self.core is None:
            raise Unavailable("raft is starting")
        return self.core

    # -- inbound frames ------------------------------------------------------------------------
    def on_frame(self, peer: str, kind: int, body: bytes) -> None:
        if kind == FrameType.RAFT:
            try:
                self._inbox.append(codec.decode(body))
            except codec.CodecError as error:
                self.metrics.raft_rejected.labels("malformed").inc()
                logger.warning("dropped malformed raft message from %s: %s", peer, error)
                return
            self._wake.set()
        elif kind in (FrameType.SNAP_BEGIN, FrameType.SNAP_CHUNK, FrameType.SNAP_END):
            self._streams.on_frame(peer, kind, body)

    def _snapshot_arrived(self, message: Message, staged: tuple[int, int] | None) -> None:
        if staged is not None:
            self._staged = staged
        self._inbox.append(message)
        self._wake.set()

    def _snapshot_sent(self, peer: str, ok: bool) -> None:
        if self.core is not None:
            self.core.report_snapshot(peer, ok)
            self._wake.set()

    # -- the loop ------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                self._feed()
                core = self._core()
                while core.has_ready():
                    await self._handle_ready()
                    self._admission.admit(core)  # a round committed: the next may start
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self.failure = error
            logger.exception("raft loop failed; the node must restart")
            self._fail_all(Unavailable(f"raft failed: {error}"))
            raise

    def _feed(self) -> None:
        core = self._core()
        core.now = time.monotonic()
        ticks, self._ticks = self._ticks, 0
        for _ in range(min(ticks, 5)):
            core.tick()
        admission = self._admission
        while self._inbox:
            message = self._inbox.popleft()
            if message.type is MsgType.PROPOSE and admission.hold(message):
                continue  # admitted below, or once a round commits
            if message.type is MsgType.SNAPSHOT:
                assert message.snapshot is not None
                staged = self._staged is not None and self._staged[0] == message.snapshot.index
                if core.accepts_snapshot(message) and not staged:
                    continue  # installable, but its data was not staged: the leader resends
                core.step(message)
                if core.ready_snapshot_pending() is None:
                    self._staged = None  # the core did not take it: discard the staged data
                continue
            core.step(message)
        admission.admit(core)
        if self.callers.read_waiters:
            core.now = time.monotonic()  # the lease is judged at the time of the read
            waiters = self.callers.take_read_waiters()
            self._read_seq += 1
            context = _U64.pack(self._read_seq)
            try:
                core.read_index(context)
                self.callers.read_started(context, waiters)
            except NotLeader as error:
                fail(waiters, NotLeaderError(error.leader))

    async def _handle_ready(self) -> None:
        core = self._core()
        rd = core.ready()
        if rd.snapshot is not None:
            assert self._staged is not None and self._staged[0] == rd.snapshot.index
            _, revision = self._staged
            self._staged = None
            await self._storage_run(self.store.install, rd.snapshot, core.hard_state, revision)
            self.callers.fail_changes(OutcomeUnknown("a snapshot replaced this node's state"))
            logger.info("installed snapshot at index %d", rd.snapshot.index)
        # A leader's appends and heartbeats do not depend on its own log being on disk (its
        # own match only counts once persisted, in advance()), so they leave before the fsync
        # and followers persist in parallel with it (Raft thesis 10.2.1). Every other message
        # (votes, responses) waits for the fsync of the state it reports.
        early = [m for m in rd.messages if m.type in _LEADER_MESSAGES]
        for message in early:
            self._send(message)
        self._flush()  # now, not after the apply and the save below
        for context, index in rd.reads:
            self.callers.read_confirmed(context, index)
        # Committed entries already on this node's disk are applied (and their callers and
        # waiting reads answered) now, on the loop, before the fsync of this Ready's new
        # entries: they do not depend on it. rocksdict holds the GIL for an unsynced write
        # anyway, so a worker thread would only add a hop. The rest waits for the fsync.
        committed, split = rd.committed, 0
        if committed:  # entries up to log.stable were on disk before this Ready
            split = max(0, min(len(committed), core.log.stable - committed[0].index + 1))
        if split:
            self._apply(committed[:split])
            self.callers.release_reads(self.engine.applied)
        late = committed[split:]
        if rd.entries or rd.hard_state is not None:
            await self._persist(rd)  # no fsync when only the commit index moved (see save)
        if late:
            self._apply(late)  # on disk now
        for message in rd.messages:
            if message.type not in _LEADER_MESSAGES:
                self._send(message)  # after the fsync of what they report
        self._flush()
        core.advance(rd)
        self.callers.release_reads(self.engine.applied)
        self._observe(core)
        await self._maybe_compact(core)

    def _storage_run(self, function, *args) -> asyncio.Future:
        assert self._storage is not None
        return self._storage.run(function, *args)

    def _vote_changes(self, hard) -> bool:
        return (hard.term, hard.vote, hard.vote_floor) != self._synced_vote

    def _apply(self, entries: list) -> None:
        started = time.perf_counter()
        results = self.engine.apply_entries(entries, self.id)
        self.metrics.raft_apply_seconds.observe(time.perf_counter() - started)
        self.callers.complete(entries, results)

    async def _persist(self, rd) -> None:
        """Write the Ready's hard state and entries here (an unsynced RocksDB write holds the
        GIL anyway), then fsync the WAL on the storage thread: the only blocking call, and the
        only work that leaves the loop, so the thread needs the GIL as little as possible."""
        began = time.perf_counter()
        hard = rd.hard_state
        must_sync = bool(rd.entries) or (hard is not None and self._vote_changes(hard))
        self.store.save(hard, rd.entries, sync=False)
        if must_sync:
            await self._storage_run(self.engine.sync_wal)
            self.metrics.raft_persist_seconds.observe(time.perf_counter() - began)
        if hard is not None:
            self._synced_vote = (hard.term, hard.vote, hard.vote_floor)
        if rd.entries:
            self.metrics.commit_batch.observe(len(rd.entries))
            self.metrics.commit_duration.observe(time.perf_counter() - began)

    def _flush(self) -> None:
        """Write the frames sent so far at once: a round's appends and acknowledgements are
        its critical path, and the end of this loop turn can be a whole apply away."""
        if self.transport is not None:
            self.transport.flush()

    def _send_now(self, message: Message) -> None:
        self._send(message)
        self._flush()

    def _send(self, message: Message) -> None:
        transport = self.transport
        if transport is None:
            return
        if message.type is MsgType.SNAPSHOT:
            self._streams.send(message)  # streamed beside the loop (see streams.py)
            return
        transport.send(message.dst, FrameType.RAFT, codec.encode(message))

    def _observe(self, core: RaftCore) -> None:
        if core.leader != self._known_leader:
            if self._known_leader:
                self.callers.fail_requests()  # forwarded to a leader that is gone
            self._known_leader = core.leader
        leader = core.role is Role.LEADER
        if leader != self._was_leader:
            self.metrics.raft_leader_changes.inc()
            if not leader:
                lost = OutcomeUnknown("leadership lost; the change may not apply")
                self.callers.fail_changes(lost)
            self._was_leader = leader
        m = self.metrics
        m.raft_term.set(core.term)
        m.raft_is_leader.set(int(leader))
        m.raft_commit.set(core.log.committed)
        m.raft_applied.set(self.engine.applied)
        # Only the current leader reports lag, and only for current peers.
        peers = tuple(p for p in core.progress if p != self.id) if leader else ()
        if peers != self._lag_peers:
            m.raft_follower_lag.clear()
            self._lag_peers = peers
            self._lag_gauges = [m.raft_follower_lag.labels(peer) for peer in peers]
        last = core.log.last_index
        for peer, gauge in zip(peers, self._lag_gauges, strict=True):
            gauge.set(last - core.progress[peer].match)
        if core.log.config is not self._last_config:
            self._last_config = core.log.config
            self.on_config(self._last_config)

    def _fail_all(self, error: Exception) -> None:
        self.callers.fail_all(error)
        self._admission.fail(error)

    async def _maybe_compact(self, core: RaftCore) -> None:
        log = core.log
        if log.applied - log.snap_index < self.compact_threshold:
            return
        index = min(log.applied, log.stable) - self.compact_keep
        term = log.term(index)
        if index <= log.snap_index or term is None:
            return
        await asyncio.to_thread(self.store.compact, SnapshotMeta(index, term, log.config_at(index)))
        log.compact(index)

    # -- status --------------------------------------------------------------------------------
    def status(self) -> dict:
        core = self._core()
        log = core.log
        status = {
            "role": core.role.value,
            "term": core.term,
            "leader": core.leader,
            "commit_index": log.committed,
            "applied_index": self.engine.applied,
            "last_index": log.last_index,
            "snapshot_index": log.snap_index,
            "voters": sorted(log.config.voters),
            "learners": sorted(log.config.learners),
            # A member that lost its data votes again once its log reaches this index (0: the
            # index is learnt from the first leader it hears); None when it votes normally.
            "vote_floor": core.vote_floor if core.withholding_votes else None,
            # Proposals on this node not yet in its log: waiting for a round to commit (on the
            # leader, see rounds.py) or for the next Ready.
            "waiting_proposals": self._admission.waiting,
            "rounds_in_flight": self._admission.gate.in_flight(log.committed),
        }
        if core.role is Role.LEADER:
            status["followers"] = {
                peer: {"match": p.match, "lag": log.last_index - p.match, "state": p.state.value}
                for peer, p in sorted(core.progress.items())
                if peer != self.id
            }
        return status
