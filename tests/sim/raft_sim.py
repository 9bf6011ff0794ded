"""Deterministic simulation of RaftCore: fake clock, fake network, seeded randomness.

Everything — message delay, loss, duplication, reordering, partitions, crashes, restarts,
membership changes, leadership transfers, client requests — is drawn from one
`random.Random(seed)`, so a failing seed replays exactly. The simulated driver follows the real
one's contract: persist a Ready's hard state and entries, then send its messages, then apply its
committed entries, then advance.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field, replace

from photon_node.cluster.raft.core import NotLeader, ProposalRefused, RaftCore, RaftOptions, Role
from photon_node.core.commands import (
    Command,
    Kind,
    decode,
    encode,
    precondition_holds,
    unwrap,
    wrap,
)
from photon_node.core.rafttypes import (
    Config,
    Entry,
    EntryKind,
    HardState,
    Message,
    MsgType,
    SnapshotMeta,
)

UNEQUAL_TICKS = (10, 20, 10, 14, 16)  # election timeouts by member, in ticks


class SafetyViolation(AssertionError):
    pass


@dataclass
class Disk:
    hard: HardState = field(default_factory=HardState)
    snapshot: SnapshotMeta = field(default_factory=SnapshotMeta)
    snap_state: dict = field(default_factory=dict)  # key -> (value, revision)
    snap_revision: int = 0
    entries: list[Entry] = field(default_factory=list)


@dataclass
class OpRecord:
    client: int
    kind: str  # put | get | delete
    key: str
    value: bytes | None
    if_revision: int | None
    create_only: bool
    invoke: float
    complete: float | None = None  # None: outcome unknown
    status: str = "unknown"  # ok | precondition_failed | not_found | unknown | failed
    revision: int = 0
    read_value: bytes | None = None


class SimNode:
    def __init__(self, sim: Simulation, node_id: str, disk: Disk) -> None:
        self.sim = sim
        self.id = node_id
        self.disk = disk
        self.alive = True
        self.paused_until = 0.0  # like SIGSTOP: no ticks, no messages handled until then
        self.wiped = False  # its disk was lost once: an empty disk means "withhold votes"
        self.boot()

    @property
    def running(self) -> bool:
        return self.alive and self.sim.now >= self.paused_until

    def boot(self) -> None:
        d = self.disk
        self.core = RaftCore(
            self.id, d.hard, d.snapshot, list(d.entries), d.snapshot.index,
            random.Random(self.sim.rng.random()), self.sim.options_for(self.id),
        )  # fmt: skip
        if self.wiped and d.hard.term == 0 and not d.entries and d.snapshot.index == 0:
            self.core.vote_floor = 0  # as the real node does when gossip shows its cluster
            self.sim.stats["wiped boots"] += 1
        elif d.hard.vote_floor is not None:
            self.sim.stats["boots still withholding"] += 1
        self.state = dict(d.snap_state)
        self.revision = d.snap_revision
        self.applied = d.snapshot.index
        self.waiting: dict[int, OpRecord] = {}  # request id -> op
        self.reads: dict[bytes, list[OpRecord]] = {}
        self.ready_reads: list[tuple[int, list[OpRecord]]] = []
        self.was_leader_term = 0

    # -- driver --------------------------------------------------------------------------------
    def pump(self) -> None:
        while self.alive and self.core.has_ready():
            rd = self.core.ready()
            d = self.disk
            if rd.snapshot is not None:
                self._install(rd.snapshot)
            if rd.entries:
                first = rd.entries[0].index
                d.entries = [e for e in d.entries if e.index < first] + list(rd.entries)
            if rd.hard_state is not None:
                d.hard = rd.hard_state
            for msg in rd.messages:
                self.sim.send(self, msg)
            for entry in rd.committed:
                self._apply(entry)
            for context, index in rd.reads:
                self.ready_reads.append((index, self.reads.pop(context, [])))
            self.core.advance(rd)
            self._serve_reads()
            self._track_leadership()
            self._maybe_compact()

    def _install(self, snap: SnapshotMeta) -> None:
        staged = self.sim.staged.pop(self.id, None)
        if staged is None or staged[0] != snap.index:
            raise SafetyViolation(f"{self.id}: snapshot {snap.index} installed without its data")
        _, state, revision = staged
        self.state, self.revision, self.applied = dict(state), revision, snap.index
        self.disk.snapshot, self.disk.snap_state, self.disk.snap_revision = (
            snap,
            dict(state),
            revision,
        )
        self.disk.entries = []
        self._fail_waiting("snapshot installed")

    def _apply(self, entry: Entry) -> None:
        if entry.index != self.applied + 1:
            raise SafetyViolation(f"{self.id}: applied {entry.index} after {self.applied}")
        self.sim.check_applied(self.id, entry)
        self.applied = entry.index
        if entry.kind is not EntryKind.NORMAL:
            return
        origin, request_id, data = unwrap(entry.data)
        status, revision = self._execute(decode(data))
        op = self.waiting.pop(request_id, None) if origin == self.id else None
        if op is not None:
            op.status, op.revision, op.complete = status, revision, self.sim.now

    def _execute(self, command: Command) -> tuple[str, int]:
        current = self.state.get(command.key.decode(), (None, 0))[1]
        if not precondition_holds(command, current):
            return "precondition_failed", current
        if command.kind is Kind.DELETE and current == 0:
            return "not_found", 0
        self.revision += 1
        if command.kind is Kind.PUT:
            self.state[command.key.decode()] = (command.value, self.revision)
        else:
            self.state.pop(command.key.decode())
        return "ok", self.revision

    def _serve_reads(self) -> None:
        keep = []
        for index, ops in self.ready_reads:
            if self.applied >= index:
                for op in ops:
                    value, revision = self.state.get(op.key, (None, 0))
                    op.status = "ok" if value is not None else "not_found"
                    op.read_value, op.revision, op.complete = value, revision, self.sim.now
            else:
                keep.append((index, ops))
        self.ready_reads = keep

    def _track_leadership(self) -> None:
        core = self.core
        if core.role is Role.LEADER and self.was_leader_term != core.term:
            self.was_leader_term = core.term
            self.sim.check_leader(core.term, self.id)
        if core.role is not Role.LEADER and self.was_leader_term:
            self.was_leader_term = 0
            self.reads.clear()
            self.ready_reads = [(i, ops) for i, ops in self.ready_reads if False]

    def _fail_waiting(self, why: str) -> None:
        self.waiting.clear()  # outcomes stay unknown

    def _maybe_compact(self) -> None:
        log = self.core.log
        if log.applied - log.snap_index > self.sim.compact_every and log.applied <= log.stable:
            index = log.applied
            term = log.term(index)
            assert term is not None
            self.disk.snapshot = SnapshotMeta(index, term, log.config_at(index))
            self.disk.snap_state, self.disk.snap_revision = dict(self.state), self.revision
            self.disk.entries = [e for e in self.disk.entries if e.index > index]
            log.compact(index)

    # -- client requests -----------------------------------------------------------------------
    def submit(self, op: OpRecord, command: Command | None) -> None:
        try:
            if command is None:
                context = f"r{self.sim.next_id()}".encode()
                self.core.read_index(context)
                self.reads.setdefault(context, []).append(op)
            else:
                request_id = self.sim.next_id()
                data = wrap(self.id, request_id, encode(command))
                self.core.forward([data], request_id.to_bytes(8, "big"))
                self.waiting[request_id] = op
        except (NotLeader, ProposalRefused):
            op.status, op.complete = "failed", self.sim.now  # definite: nothing was appended
        self.pump()

    def crash(self) -> None:
        self.alive = False
        self.waiting.clear()
        self.reads.clear()
        self.ready_reads = []
        self.sim.staged.pop(self.id, None)

    def wipe(self) -> None:
        """The disk is gone (a new volume): the node restarts empty, as the same member. A
        bootstrap member starts again from the initial configuration, as a real node given
        the same --initial-cluster does; a member that joined later starts with none."""
        initial = self.sim.initial_config
        self.disk = Disk(
            snapshot=SnapshotMeta(0, 0, initial if self.id in initial.members else Config())
        )
        self.wiped = True

    @property
    def withholding(self) -> bool:
        return self.disk.hard.vote_floor is not None or (
            self.alive and self.core.vote_floor is not None
        )

    def restart(self) -> None:
        self.alive = True
        self.paused_until = 0.0
        self.boot()


class Simulation:
    def __init__(
        self,
        seed: int,
        lease: float | None = None,
        voters: int = 3,
        spare: int = 2,
        loss: float = 0.05,
        duplicate: float = 0.02,
        max_delay: int = 3,
        compact_every: int = 40,
        unequal_timeouts: bool | None = None,
        election_ticks: tuple[int, ...] = UNEQUAL_TICKS,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.stats: Counter[str] = Counter()
        # Odd seeds run with leader leases (reads without a round), even ones with ReadIndex.
        if lease is None:
            lease = 7.0 if seed % 2 else 0.0
        # Every third seed sends small appends, so catching up takes many rounds.
        self.options = RaftOptions(
            election_ticks=10, heartbeat_ticks=2, max_inflight=8, lease_seconds=lease,
            max_msg_bytes=256 if seed % 3 == 0 else 1 << 20, election_timeout=10.0,
        )  # fmt: skip
        # Seeds 3 mod 4 (leases) give members different election timeouts, as a rolling
        # change of raft_tick_ms or election_ticks would: the lease must follow the smallest.
        if unequal_timeouts is None:
            unequal_timeouts = seed % 4 == 3 and lease > 0
        self.unequal_timeouts = unequal_timeouts
        self.election_ticks = election_ticks
        self.now = 0.0
        self.loss, self.duplicate, self.max_delay = loss, duplicate, max_delay
        self.compact_every = compact_every
        ids = [f"n{i}" for i in range(voters + spare)]
        config = Config.of({i: f"{i}:7701" for i in ids[:voters]})
        self.initial_config = config
        self.nodes: dict[str, SimNode] = {}
        for node_id in ids:
            disk = Disk(
                snapshot=SnapshotMeta(0, 0, config if node_id in ids[:voters] else Config())
            )
            self.nodes[node_id] = SimNode(self, node_id, disk)
        self.queue: list[tuple[float, int, str, Message, object]] = []
        self.partition: dict[str, int] = {}  # node -> side; empty: fully connected
        self.staged: dict[str, tuple[int, dict, int]] = {}
        self.leaders: dict[int, str] = {}
        self.applied_log: dict[int, tuple[int, bytes]] = {}
        self.ops: list[OpRecord] = []
        self._seq = 0

    def options_for(self, node_id: str) -> RaftOptions:
        if not self.unequal_timeouts:
            return self.options
        ticks = self.election_ticks[int(node_id[1:]) % len(self.election_ticks)]
        fraction = self.options.lease_seconds / self.options.election_timeout
        return replace(self.options, election_ticks=ticks, election_timeout=float(ticks),
                       lease_seconds=fraction * ticks)  # fmt: skip

    def next_id(self) -> int:
        self._seq += 1
        return self._seq

    # -- safety checks -------------------------------------------------------------------------
    def check_leader(self, term: int, node_id: str) -> None:
        other = self.leaders.setdefault(term, node_id)
        if other != node_id:
            raise SafetyViolation(
                f"seed {self.seed}: two leaders in term {term}: {other}, {node_id}"
            )

    def check_applied(self, node_id: str, entry: Entry) -> None:
        seen = self.applied_log.setdefault(entry.index, (entry.term, entry.data))
        if seen != (entry.term, entry.data):
            raise SafetyViolation(
                f"seed {self.seed}: {node_id} applied a different entry at {entry.index}"
            )

    # -- network -------------------------------------------------------------------------------
    def connected(self, a: str, b: str) -> bool:
        return self.partition.get(a, 0) == self.partition.get(b, 0)

    def send(self, node: SimNode, msg: Message) -> None:
        payload = None
        if msg.type is MsgType.SNAPSHOT:
            assert msg.snapshot is not None and node.applied == msg.snapshot.index
            payload = (msg.snapshot.index, dict(node.state), node.revision)
            node.core.report_snapshot(msg.dst, True)
        copies = 0 if self.rng.random() < self.loss else 1
        if copies and self.rng.random() < self.duplicate:
            copies = 2
        for _ in range(copies):
            delay = 1 + self.rng.randrange(self.max_delay + 1)
            heapq.heappush(self.queue, (self.now + delay, self.next_id(), msg.dst, msg, payload))

    def deliver_due(self) -> None:
        while self.queue and self.queue[0][0] <= self.now:
            _, _, dst, msg, payload = heapq.heappop(self.queue)
            node = self.nodes[dst]
            if not node.alive or not self.connected(msg.src, dst):
                continue
            if not node.running:  # read from the socket once it resumes
                when = node.paused_until
                heapq.heappush(self.queue, (when, self.next_id(), dst, msg, payload))
                continue
            node.core.now = self.now
            if msg.type is MsgType.SNAPSHOT:
                if not node.core.accepts_snapshot(msg):
                    node.core.step(msg)
                    node.pump()
                    continue
                self.staged[dst] = payload
            node.core.step(msg)
            node.pump()
            self.staged.pop(dst, None)
