"""The Raft state machine of one group: pure and deterministic (no I/O, no clock, seeded rng).

The driver feeds it ticks, messages and requests, then collects a `Ready` (hard state and
entries to persist, messages to send, committed entries to apply, a snapshot to install, reads
that may proceed) and calls `advance` once that Ready is persisted and applied. Messages of a
Ready are sent only after its entries and hard state are on disk.

Implemented: pre-vote, leader stickiness and check-quorum; pipelined, batched replication with
per-follower progress; commit only of current-term entries; snapshots for followers behind the
compaction point; single-server membership changes (effective when appended, one at a time,
only after the leader committed an entry of its term); learners; leadership transfer; ReadIndex
reads confirmed by a heartbeat round, or served at once under a leader lease (`now` is the one
input from a clock, set by the driver). See DESIGN.md for the invariants.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from photon_node.cluster.raft.lease import LeaderLease
from photon_node.cluster.raft.log import RaftLog
from photon_node.cluster.raft.progress import Progress, ProgressState
from photon_node.core.rafttypes import (
    Config,
    Entry,
    EntryKind,
    HardState,
    Message,
    MsgType,
    SnapshotMeta,
)

logger = logging.getLogger(__name__)

TRANSFER = b"transfer"
# The context of an APPEND without entries that a replicating follower gets only to learn the
# commit index: it need not answer if the append matches its log. Members that do not know the
# flag answer anyway (older versions ignore an APPEND's context).
COMMIT_ONLY = b"c"


class Role(Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class NotLeader(Exception):
    def __init__(self, leader: str) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class ProposalRefused(Exception):
    pass


@dataclass(frozen=True)
class RaftOptions:
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    max_msg_bytes: int = 1 << 20
    max_inflight: int = 64
    pre_vote: bool = True
    check_quorum: bool = True
    lease_seconds: float = 0.0  # > 0: leader lease reads (needs check_quorum); see lease.py
    election_timeout: float = 0.0  # this node's, in seconds (reported in heartbeat answers)


@dataclass
class Ready:
    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    committed: list[Entry] = field(default_factory=list)
    snapshot: SnapshotMeta | None = None
    reads: list[tuple[bytes, int]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.hard_state or self.entries or self.messages or self.committed or self.snapshot
            or self.reads
        )  # fmt: skip


@dataclass
class _ReadRound:
    context: bytes
    index: int
    acks: set[str]
    requester: str


class RaftCore:
    def __init__(
        self,
        node_id: str,
        hard_state: HardState,
        snapshot: SnapshotMeta,
        entries: list[Entry],
        applied: int,
        rng: random.Random,
        options: RaftOptions = RaftOptions(),
        group: int = 0,
    ) -> None:
        self.id = node_id
        self.group = group
        self.options = options
        self.rng = rng
        self.log = RaftLog(snapshot, entries, hard_state.commit, applied)
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.role = Role.FOLLOWER
        self.leader = ""
        self.votes: dict[str, bool] = {}
        self.progress: dict[str, Progress] = {}
        self.departing: dict[str, int] = {}  # removed member -> index of the config removing it
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = 0
        self.transferee = ""
        self.transfer_elapsed = 0
        self.pending_reads: list[tuple[bytes, str]] = []  # (context, requester) until a
        # current-term entry commits
        self.seen_proposals: dict[bytes, None] = {}  # recent PROPOSE ids: drop duplicates
        self.read_rounds: list[_ReadRound] = []
        self._msgs: list[Message] = []
        self._reads: list[tuple[bytes, int]] = []
        self._pending_snapshot: SnapshotMeta | None = None
        self._round_pending = False
        # The commit index moved: every follower hears it in the next Ready's append, which
        # also carries the entries proposed since (one message, not an empty one and then more).
        self._commit_news = False
        # A member that lost its data must not vote (or campaign) on an empty log: votes are
        # withheld until it has caught up to the commit index of the first leader it hears.
        # None: not withholding; 0: withholding, floor not known yet. Part of the hard state.
        self.vote_floor: int | None = hard_state.vote_floor
        self._prev_hard = self.hard_state
        self.now = 0.0  # the driver's monotonic clock, for the lease only
        lease = options.lease_seconds if options.check_quorum else 0.0
        self.lease = LeaderLease(lease, options.election_timeout)
        # A node that just started grants no vote for an election timeout, as if it had just
        # heard from a leader: it may have, before it restarted (the lease depends on that).
        self.uptime_ticks = 0
        self._reset_timeout()

    # -- inputs --------------------------------------------------------------------------------
    def tick(self) -> None:
        self.uptime_ticks += 1
        if self.role is Role.LEADER:
            self._tick_leader()
        else:
            self.election_elapsed += 1
            if self.promotable and self.election_elapsed >= self.randomized_timeout:
                self.campaign(pre=self.options.pre_vote)

    def forward(self, commands: Sequence[bytes], proposal_id: bytes) -> None:
        """On a follower: send commands to the leader in one message, which appends them (no
        answer: each proposer learns the outcome when it applies its entry). `proposal_id`
        is unique to this batch; the leader drops a duplicate of it."""
        if self.role is Role.LEADER:
            for data in commands:
                self.propose(data)
            return
        self._msgs.append(self.proposal_for_leader(commands, proposal_id))

    def proposal_for_leader(self, commands: Sequence[bytes], proposal_id: bytes) -> Message:
        """On a follower: the PROPOSE message that `forward` queues, for a caller that sends it
        at once rather than with the next Ready (it depends on nothing this node persists)."""
        if not self.leader or self.role is Role.LEADER:
            raise NotLeader(self.leader)
        entries = tuple(Entry(0, 0, EntryKind.NORMAL, data) for data in commands)
        return Message(MsgType.PROPOSE, self.id, self.leader, self.term, self.group,
                       entries=entries, context=proposal_id)  # fmt: skip

    def propose(self, data: bytes, kind: EntryKind = EntryKind.NORMAL) -> tuple[int, int]:
        """Append a command as leader; return (index, term) it will commit at, if it does."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if self.transferee:
            raise ProposalRefused("leadership transfer in progress")
        entry = Entry(self.term, self.log.last_index + 1, kind, data)
        self.log.append([entry])
        return entry.index, entry.term

    def propose_config(self, config: Config) -> tuple[int, int]:
        """Propose a membership change of at most one voter, after the previous one committed."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if self.log.config_index > self.log.committed:
            raise ProposalRefused("another membership change is not yet committed")
        if self.log.term(self.log.committed) != self.term:
            raise ProposalRefused("the new leader has not committed an entry of its term yet")
        current = self.log.config
        if len(current.voters ^ config.voters) > 1:
            raise ProposalRefused("only one voter may be added or removed at a time")
        if not config.voters:
            raise ProposalRefused("a configuration needs at least one voter")
        index, term = self.propose(config.encode(), EntryKind.CONFIG)
        self._apply_config()
        return index, term

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; it appears in Ready.reads once confirmed. On a
        follower the leader confirms it and answers with its commit index."""
        if self.role is not Role.LEADER:
            if not self.leader:
                raise NotLeader("")
            self._send(self.leader, MsgType.READ_INDEX, context=context)
            return
        self._read_for(context, self.id)

    def _read_for(self, context: bytes, requester: str) -> None:
        if self.log.term(self.log.committed) != self.term:
            self.pending_reads.append((context, requester))
            return
        self._start_read(context, requester)

    def _answer_read(self, context: bytes, requester: str, index: int) -> None:
        if requester == self.id:
            self._reads.append((context, index))
        else:
            self._send(requester, MsgType.READ_INDEX_RESP, index=index, context=context)

    def transfer_leadership(self, target: str) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader)
        if target == self.id:
            return
        if target not in self.log.config.voters:
            raise ProposalRefused(f"{target} is not a voter")
        self.transferee = target
        self.lease.reset()  # the transferee will campaign past the followers' stickiness
        self.transfer_elapsed = 0
        progress = self.progress[target]
        if progress.match == self.log.last_index:
            self._send(target, MsgType.TIMEOUT_NOW)
        else:
            self._send_append(target)

    def step(self, m: Message) -> None:
        if m.group != self.group:
            return
        if m.term > self.term:
            if m.type in (MsgType.PRE_VOTE, MsgType.VOTE):
                timeout = self.options.election_ticks
                sticky = self.options.check_quorum and (
                    (self.leader and self.election_elapsed < timeout) or self.uptime_ticks < timeout
                )
                if sticky and m.context != TRANSFER:
                    return  # we have a live leader: do not let a disruptive server depose it
            if m.type is MsgType.PRE_VOTE or (m.type is MsgType.PRE_VOTE_RESP and not m.reject):
                pass  # pre-votes never change terms
            elif m.type in (MsgType.APPEND, MsgType.HEARTBEAT, MsgType.SNAPSHOT):
                self._become_follower(m.term, m.src)
            else:
                self._become_follower(m.term, "")
        elif m.term < self.term:
            if m.type in (MsgType.APPEND, MsgType.HEARTBEAT) and self.options.check_quorum:
                self._send(m.src, MsgType.APPEND_RESP)  # tell a stale leader about our term
            elif m.type is MsgType.PRE_VOTE:
                self._send(m.src, MsgType.PRE_VOTE_RESP, reject=True)
            return
        if m.type in (MsgType.PRE_VOTE, MsgType.VOTE):
            self._handle_vote_request(m)
            return
        if self.role is Role.LEADER:
            self._step_leader(m)
        elif self.role in (Role.PRE_CANDIDATE, Role.CANDIDATE):
            self._step_candidate(m)
        else:
            self._step_follower(m)

    def report_snapshot(self, peer: str, success: bool) -> None:
        progress = self.progress.get(peer)
        if self.role is not Role.LEADER or not progress:
            return
        if progress.state is ProgressState.SNAPSHOT:
            if not success:
                progress.pending_snapshot = 0
            progress.become_probe()
            progress.paused = True  # wait for the follower's response before probing again

    def report_unreachable(self, peer: str) -> None:
        progress = self.progress.get(peer)
        if self.role is Role.LEADER and progress and progress.state is ProgressState.REPLICATE:
            progress.become_probe()

    # -- outputs -------------------------------------------------------------------------------
    @property
    def hard_state(self) -> HardState:
        floor = self.vote_floor if self.withholding_votes else None
        return HardState(self.term, self.vote, self.log.committed, floor)

    def ready_snapshot_pending(self) -> SnapshotMeta | None:
        return self._pending_snapshot

    def has_ready(self) -> bool:
        return bool(
            self._round_pending or self._commit_news or self._msgs or self._reads
            or self._pending_snapshot or self.log.unstable() or self.log.to_apply()
            or self.hard_state != self._prev_hard
        )  # fmt: skip

    def ready(self) -> Ready:
        if self.role is Role.LEADER:
            news = self._commit_news
            for peer in self._peers():
                self._send_append(peer, only_if_new=not news, commit_only=news)
            if self._round_pending and self.read_rounds:
                self._broadcast_heartbeat(self.read_rounds[-1].context)
        self._round_pending = self._commit_news = False
        ready = Ready(
            hard_state=self.hard_state if self.hard_state != self._prev_hard else None,
            entries=self.log.unstable(),
            messages=self._msgs,
            committed=self.log.to_apply(),
            snapshot=self._pending_snapshot,
            reads=self._reads,
        )
        self._msgs, self._reads = [], []
        return ready

    def advance(self, ready: Ready) -> None:
        if ready.hard_state is not None:
            self._prev_hard = ready.hard_state
        if ready.snapshot is not None:
            self._pending_snapshot = None
        if ready.entries:
            last = ready.entries[-1]
            if self.log.term(last.index) == last.term:
                self.log.stable = max(self.log.stable, last.index)
        if ready.committed:
            self.log.applied = max(self.log.applied, ready.committed[-1].index)
        if self.role is Role.LEADER:
            mine = self.progress.get(self.id)
            if mine is not None:
                mine.update(self.log.stable)
            if self._maybe_commit():
                self._commit_news = True
            config_committed = self.log.config_index <= self.log.committed
            if config_committed and self.id not in self.log.config.voters:
                logger.info("%s: removed from the voters; stepping down", self.id)
                self._become_follower(self.term, "")

    # -- roles ---------------------------------------------------------------------------------
    @property
    def promotable(self) -> bool:
        return (
            self.id in self.log.config.voters
            and self._pending_snapshot is None
            and not self.withholding_votes
        )

    @property
    def withholding_votes(self) -> bool:
        if self.vote_floor is None:
            return False
        if self.vote_floor and self.log.last_index >= self.vote_floor:
            self.vote_floor = None  # caught up: a normal member again
            return False
        return True

    def _quorum(self) -> int:
        return len(self.log.config.voters) // 2 + 1

    def _peers(self) -> Iterable[str]:
        # members, plus removed ones until they have the entry that removed them
        return sorted((self.log.config.members | self.departing.keys()) - {self.id})

    def _reset_timeout(self) -> None:
        base = self.options.election_ticks
        self.randomized_timeout = base + self.rng.randrange(base)
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0

    def _become_follower(self, term: int, leader: str) -> None:
        if term > self.term:
            self.term, self.vote = term, ""
        if self.role is not Role.FOLLOWER or leader != self.leader:
            logger.debug("%s: follower in term %d, leader %s", self.id, term, leader or "-")
        self.role = Role.FOLLOWER
        self.leader = leader
        self.transferee = ""
        self.lease.reset()
        self.read_rounds.clear()
        self.pending_reads.clear()
        self._reset_timeout()

    def campaign(self, pre: bool, transfer: bool = False) -> None:
        if not self.promotable:
            return
        if pre:
            self.role = Role.PRE_CANDIDATE
            term = self.term + 1
            kind = MsgType.PRE_VOTE
        else:
            self.role = Role.CANDIDATE
            self.term += 1
            self.vote = self.id
            term = self.term
            kind = MsgType.VOTE
        self.leader = ""
        self.votes = {self.id: True}
        self._reset_timeout()
        if self._tally() == "won":
            self._won(pre)
            return
        for peer in sorted(self.log.config.voters - {self.id}):
            self._msgs.append(
                Message(kind, self.id, peer, term, self.group, self.log.last_term,
                        self.log.last_index, context=TRANSFER if transfer else b"")
            )  # fmt: skip

    def _tally(self) -> str:
        voters = self.log.config.voters
        granted = sum(1 for v, ok in self.votes.items() if ok and v in voters)
        rejected = sum(1 for v, ok in self.votes.items() if not ok and v in voters)
        if granted >= self._quorum():
            return "won"
        if rejected >= self._quorum():
            return "lost"
        return "pending"

    def _won(self, pre: bool) -> None:
        if pre:
            self.campaign(pre=False)
        else:
            self._become_leader()

    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self.leader = self.id
        self.transferee = ""
        self.lease.reset()
        self.progress = {}
        self.departing = {}
        for member in self.log.config.members:
            self.progress[member] = Progress(next=self.log.last_index + 1)
        self.progress[self.id].match = self.log.stable
        self._reset_timeout()
        logger.info("%s: leader in term %d", self.id, self.term)
        self.propose(b"", EntryKind.NOOP)

    def _apply_config(self) -> None:
        """Bring leader progress in line with the latest configuration in the log."""
        if self.role is not Role.LEADER:
            return
        self.lease.reset()  # acknowledgements of the old voters do not count for the new ones
        members = self.log.config.members
        for member in members - self.progress.keys():
            self.progress[member] = Progress(next=self.log.last_index + 1)
        for member in set(self.progress) - members - {self.id}:
            self.departing.setdefault(member, self.log.config_index)
        for member in members & self.departing.keys():
            del self.departing[member]
        if self.transferee and self.transferee not in self.log.config.voters:
            self.transferee = ""

    # -- votes ---------------------------------------------------------------------------------
    def _handle_vote_request(self, m: Message) -> None:
        pre = m.type is MsgType.PRE_VOTE
        can_vote = (
            self.vote == m.src
            or (not self.vote and not self.leader)
            or (pre and m.term > self.term)
        )
        # Votes are granted without consulting our own configuration (Raft thesis §4.1): a
        # node that has not yet learnt it was re-added must still be able to elect the leader
        # that will tell it. The candidate counts only the votes of its configuration's voters.
        grant = can_vote and self.log.up_to_date(m.index, m.log_term) and not self.withholding_votes
        resp = MsgType.PRE_VOTE_RESP if pre else MsgType.VOTE_RESP
        # A granted pre-vote answers in the candidate's future term; everything else in ours.
        self._msgs.append(
            Message(resp, self.id, m.src, m.term if grant else self.term, self.group,
                    reject=not grant)
        )  # fmt: skip
        if grant and not pre:
            self.vote = m.src
            self.election_elapsed = 0

    def _step_candidate(self, m: Message) -> None:
        expected = MsgType.PRE_VOTE_RESP if self.role is Role.PRE_CANDIDATE else MsgType.VOTE_RESP
        if m.type in (MsgType.APPEND, MsgType.HEARTBEAT, MsgType.SNAPSHOT):
            self._become_follower(m.term, m.src)
            self._step_follower(m)
        elif m.type is expected:
            self.votes[m.src] = not m.reject
            outcome = self._tally()
            if outcome == "won":
                self._won(self.role is Role.PRE_CANDIDATE)
            elif outcome == "lost":
                self._become_follower(self.term, "")

    # -- follower ------------------------------------------------------------------------------
    def _step_follower(self, m: Message) -> None:
        if m.type in (MsgType.APPEND, MsgType.HEARTBEAT, MsgType.SNAPSHOT):
            self.election_elapsed = 0
            self.leader = m.src
            if self.vote_floor == 0:
                commit = m.snapshot.index if m.snapshot else m.commit
                self.vote_floor = max(commit, 1)
        if m.type is MsgType.APPEND:
            self._handle_append(m)
        elif m.type is MsgType.HEARTBEAT:
            self.log.commit_to(min(m.commit, self.log.last_index))
            # `index` tells the leader how long our log is: a member that lost its disk
            # shows up here as shorter than the leader believed.
            # log_term carries our election timeout in ms, for the leader's lease (lease.py).
            timeout_ms = round(self.options.election_timeout * 1000)
            self._send(m.src, MsgType.HEARTBEAT_RESP, context=m.context,
                       index=self.log.last_index, log_term=timeout_ms)  # fmt: skip
        elif m.type is MsgType.SNAPSHOT:
            self._handle_snapshot(m)
        elif m.type is MsgType.READ_INDEX_RESP:
            self._reads.append((m.context, m.index))
        elif m.type is MsgType.TIMEOUT_NOW:
            if self.promotable:
                logger.info("%s: campaigning now, asked by %s", self.id, m.src)
            else:
                voters = sorted(self.log.config.voters)
                logger.warning("%s: asked by %s to campaign, but cannot (voters %s, vote floor %s)",
                               self.id, m.src, voters, self.vote_floor)  # fmt: skip
            self.campaign(pre=False, transfer=True)

    def _handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self._send(m.src, MsgType.APPEND_RESP, index=self.log.committed)
            return
        if not self.log.matches(m.index, m.log_term):
            hint = min(m.index, self.log.last_index)
            self._send(m.src, MsgType.APPEND_RESP, index=m.index, reject=True, reject_hint=hint)
            return
        last_new = self.log.merge(m.index, m.entries)
        self.log.commit_to(min(m.commit, last_new))
        if not (m.context == COMMIT_ONLY and not m.entries):
            self._send(m.src, MsgType.APPEND_RESP, index=last_new)

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        assert snap is not None
        if snap.index <= self.log.committed:
            self._send(m.src, MsgType.APPEND_RESP, index=self.log.committed)
        elif self.log.matches(snap.index, snap.term):
            self.log.commit_to(snap.index)
            self._send(m.src, MsgType.APPEND_RESP, index=snap.index)
        else:
            logger.info("%s: installing snapshot at %d from %s", self.id, snap.index, m.src)
            self.log.restore(snap)
            self._pending_snapshot = snap
            self._send(m.src, MsgType.APPEND_RESP, index=snap.index)

    def accepts_snapshot(self, m: Message) -> bool:
        """Would step(m) install m.snapshot? Lets the driver skip streaming data we won't use."""
        snap = m.snapshot
        return (
            snap is not None
            and m.term >= self.term
            and snap.index > self.log.committed
            and not self.log.matches(snap.index, snap.term)
        )

    # -- leader --------------------------------------------------------------------------------
    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.options.election_ticks:
            self.election_elapsed = 0
            for peer in [p for p in self.departing if not self.progress[p].recent_active]:
                del self.departing[peer]  # silent for a whole timeout: stop telling it
                del self.progress[peer]
            if self.options.check_quorum and not self._quorum_active():
                logger.info("%s: lost contact with a quorum; stepping down", self.id)
                self._become_follower(self.term, "")
                return
            if self.transferee:
                self.transferee = ""  # the transfer did not complete in time
        if self.heartbeat_elapsed >= self.options.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self._broadcast_heartbeat(self.read_rounds[-1].context if self.read_rounds else b"")

    def _quorum_active(self) -> bool:
        voters = self.log.config.voters
        active = sum(
            1
            for peer, progress in self.progress.items()
            if peer in voters and (progress.recent_active or peer == self.id)
        )
        for progress in self.progress.values():
            progress.recent_active = False
        return active >= self._quorum()

    def _step_leader(self, m: Message) -> None:
        if m.type is MsgType.PROPOSE:
            if m.src in self.log.config.members:
                self._accept_forwarded(m)
            return
        if m.type is MsgType.READ_INDEX:
            if m.src in self.log.config.members:
                self._read_for(m.context, m.src)
            return
        progress = self.progress.get(m.src)
        if progress is None:
            return
        progress.recent_active = True
        if m.type is MsgType.APPEND_RESP:
            self._handle_append_resp(m, progress)
        elif m.type is MsgType.HEARTBEAT_RESP:
            if m.index < progress.match:
                progress.match = m.index  # it lost acknowledged entries (a wiped disk)
                progress.become_probe()
            if progress.match < self.log.last_index:
                progress.paused = False
                if len(progress.inflight) >= self.options.max_inflight:
                    progress.inflight.popleft()  # an append was lost: let one more through
                self._send_append(m.src)
            if m.context:
                self._ack_read(m.context, m.src)
                self.lease.acked(m.context, m.src, self.id, self.log.config.voters,
                                 m.log_term / 1000)  # fmt: skip

    def _handle_append_resp(self, m: Message, progress: Progress) -> None:
        if m.reject:
            if progress.rejected(m.index, m.reject_hint):
                if progress.state is ProgressState.REPLICATE:
                    progress.become_probe()
                self._send_append(m.src)
            return
        if not progress.update(m.index):
            return
        if m.src in self.departing and progress.match >= self.departing[m.src]:
            del self.departing[m.src]  # it now knows it was removed
            del self.progress[m.src]
            return
        if progress.state is ProgressState.PROBE:
            progress.become_replicate()
        elif (
            progress.state is ProgressState.SNAPSHOT and progress.match >= progress.pending_snapshot
        ):
            progress.become_probe()
        if self._maybe_commit():
            self._commit_news = True
        else:
            self._send_append(m.src, only_if_new=True)
        if m.src == self.transferee and progress.match == self.log.last_index:
            self._send(m.src, MsgType.TIMEOUT_NOW)

    def _accept_forwarded(self, m: Message) -> None:
        if self.transferee or m.context in self.seen_proposals:
            return  # dropped: the proposer times out and reports an unknown outcome
        self.seen_proposals[m.context] = None
        if len(self.seen_proposals) > 100_000:
            del self.seen_proposals[next(iter(self.seen_proposals))]
        for entry in m.entries:
            self.propose(entry.data)

    def _maybe_commit(self) -> bool:
        voters = self.log.config.voters
        matches = sorted(
            (self.progress[v].match if v in self.progress else 0 for v in voters), reverse=True
        )
        if not matches:
            return False
        index = matches[self._quorum() - 1]
        if index > self.log.committed and self.log.term(index) == self.term:
            self.log.commit_to(index)
            self._on_commit()
            return True
        return False

    def _on_commit(self) -> None:
        if self.pending_reads and self.log.term(self.log.committed) == self.term:
            pending, self.pending_reads = self.pending_reads, []
            for context, requester in pending:
                self._start_read(context, requester)

    def _broadcast_heartbeat(self, context: bytes) -> None:
        if self.lease.enabled:
            context = context or self.lease.new_context()
            self.lease.sent(context, self.now)
        for peer in self._peers():
            progress = self.progress[peer]
            commit = min(progress.match, self.log.committed)
            self._send(peer, MsgType.HEARTBEAT, commit=commit, context=context)

    def _send_append(self, peer: str, only_if_new: bool = False, commit_only: bool = False) -> None:
        """Send `peer` what it lacks. `commit_only`: if that is nothing, the append only tells
        it the commit index and needs no answer (its last append's answer, or the heartbeats'
        if that was lost, tell us where it is)."""
        progress = self.progress.get(peer)
        if progress is None or progress.blocked(self.options.max_inflight):
            return
        if (
            only_if_new
            and progress.next > self.log.last_index
            and (progress.state is ProgressState.REPLICATE or progress.paused)
        ):
            return
        prev = progress.next - 1
        prev_term = self.log.term(prev)
        if prev_term is None:
            self._send_snapshot(peer, progress)
            return
        entries = self.log.slice(progress.next, self.log.last_index + 1, self.options.max_msg_bytes)
        replicating = progress.state is ProgressState.REPLICATE
        context = COMMIT_ONLY if commit_only and replicating and not entries else b""
        self._msgs.append(
            Message(MsgType.APPEND, self.id, peer, self.term, self.group, prev_term, prev,
                    tuple(entries), self.log.committed, context=context)
        )  # fmt: skip
        if progress.state is ProgressState.REPLICATE and entries:
            progress.next = entries[-1].index + 1
            progress.inflight.append(entries[-1].index)
        elif progress.state is ProgressState.PROBE:
            progress.paused = True

    def _send_snapshot(self, peer: str, progress: Progress) -> None:
        index = self.log.applied
        term = self.log.term(index)
        assert term is not None
        meta = SnapshotMeta(index, term, self.log.config_at(index))
        progress.become_snapshot(index)
        self._msgs.append(
            Message(MsgType.SNAPSHOT, self.id, peer, self.term, self.group, snapshot=meta)
        )

    # -- reads ---------------------------------------------------------------------------------
    def _start_read(self, context: bytes, requester: str) -> None:
        if self.lease.valid(self.now) and not self.transferee:
            self._answer_read(context, requester, self.log.committed)  # no round needed
            return
        round_ = _ReadRound(context, self.log.committed, {self.id}, requester)
        self.read_rounds.append(round_)
        if len(self.log.config.voters) == 1:
            self._release_reads(round_)
        else:
            # One heartbeat round, sent at the next ready(), confirms every read started
            # before it: concurrent reads share it.
            self._round_pending = True

    def _ack_read(self, context: bytes, peer: str) -> None:
        voters = self.log.config.voters
        for round_ in self.read_rounds:
            if round_.context == context:
                if peer in voters:
                    round_.acks.add(peer)
                if len(round_.acks & voters) >= self._quorum():
                    self._release_reads(round_)
                return

    def _release_reads(self, upto: _ReadRound) -> None:
        """A confirmed round also confirms every earlier one (they were started before it)."""
        while self.read_rounds:
            round_ = self.read_rounds.pop(0)
            self._answer_read(round_.context, round_.requester, round_.index)
            if round_ is upto:
                return

    # -- helpers -------------------------------------------------------------------------------
    def _send(self, to: str, kind: MsgType, **fields) -> None:
        self._msgs.append(Message(kind, self.id, to, self.term, self.group, **fields))
