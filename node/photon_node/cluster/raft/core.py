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
from collections.abc import Sequence
from dataclasses import dataclass, field

from photon_node.cluster.raft.election import Elections
from photon_node.cluster.raft.follower import Following
from photon_node.cluster.raft.leader import Leading
from photon_node.cluster.raft.reads import Reads
from photon_node.cluster.raft.state import (
    COMMIT_ONLY,
    TRANSFER,
    NotLeader,
    ProposalRefused,
    RaftOptions,
    Role,
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

logger = logging.getLogger(__name__)

__all__ = [
    "COMMIT_ONLY",
    "NotLeader",
    "ProposalRefused",
    "RaftCore",
    "RaftOptions",
    "Ready",
    "Role",
]


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


class RaftCore(Elections, Following, Leading, Reads):
    """One group's Raft: the inputs (ticks, messages, requests) and outputs (Ready, advance).
    The state is in state.py, the handling of each role in the mixins."""

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

    # -- outputs -------------------------------------------------------------------------------
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
