"""The state every part of a Raft group's core shares, and the helpers they all use.

`RaftCore` (core.py) is assembled from this state and one mixin per concern: elections and
roles (election.py), the follower's side of replication (follower.py), the leader's
(leader.py) and ReadIndex reads (reads.py). Each mixin reads and changes the fields set here.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from photon_node.cluster.raft.lease import LeaderLease
from photon_node.cluster.raft.log import RaftLog
from photon_node.cluster.raft.progress import Progress
from photon_node.core.rafttypes import Entry, HardState, Message, MsgType, SnapshotMeta

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
class ReadRound:
    context: bytes
    index: int
    acks: set[str]
    requester: str


class RaftState:
    """The fields of one group's core; see core.py for how they are driven."""

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
        self.read_rounds: list[ReadRound] = []
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

    @property
    def hard_state(self) -> HardState:
        floor = self.vote_floor if self.withholding_votes else None
        return HardState(self.term, self.vote, self.log.committed, floor)

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

    def _send(self, to: str, kind: MsgType, **fields) -> None:
        self._msgs.append(Message(kind, self.id, to, self.term, self.group, **fields))
