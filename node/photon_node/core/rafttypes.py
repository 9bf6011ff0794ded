"""Raft data shared by the cluster and storage layers: entries, messages, hard state,
membership configuration, snapshot metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum


class EntryKind(IntEnum):
    NORMAL = 1  # a state-machine command
    CONFIG = 2  # a membership configuration (takes effect when appended)
    NOOP = 3  # appended by a new leader to commit entries of earlier terms


@dataclass(frozen=True, slots=True)
class Entry:
    term: int
    index: int
    kind: EntryKind
    data: bytes = b""


class MsgType(IntEnum):
    PRE_VOTE = 1
    PRE_VOTE_RESP = 2
    VOTE = 3
    VOTE_RESP = 4
    APPEND = 5
    APPEND_RESP = 6
    HEARTBEAT = 7
    HEARTBEAT_RESP = 8
    SNAPSHOT = 9  # leader -> follower: install the state at snapshot.index (data streamed aside)
    TIMEOUT_NOW = 10  # leadership transfer: campaign now, ignoring leader stickiness
    PROPOSE = 11  # follower -> leader: append these entries' data (context: a unique id)
    READ_INDEX = 12  # follower -> leader: confirm leadership, tell me the read index
    READ_INDEX_RESP = 13  # leader -> follower: `index` is safe to read at once applied


@dataclass(frozen=True, slots=True)
class Member:
    node_id: str
    addr: str  # peer host:port


@dataclass(frozen=True, slots=True)
class Config:
    voters: frozenset[str] = frozenset()
    learners: frozenset[str] = frozenset()
    addrs: tuple[tuple[str, str], ...] = ()  # (node_id, peer addr), sorted

    @staticmethod
    def of(voters: dict[str, str], learners: dict[str, str] | None = None) -> Config:
        learners = learners or {}
        return Config(
            frozenset(voters), frozenset(learners), tuple(sorted({**voters, **learners}.items()))
        )

    @property
    def members(self) -> frozenset[str]:
        return self.voters | self.learners

    def addr(self, node_id: str) -> str | None:
        return dict(self.addrs).get(node_id)

    def with_member(self, node_id: str, addr: str, voter: bool) -> Config:
        addrs = dict(self.addrs)
        addrs[node_id] = addr
        voters = self.voters | {node_id} if voter else self.voters - {node_id}
        learners = self.learners - {node_id} if voter else self.learners | {node_id}
        return Config(voters, learners, tuple(sorted(addrs.items())))

    def without(self, node_id: str) -> Config:
        addrs = tuple((k, v) for k, v in self.addrs if k != node_id)
        return Config(self.voters - {node_id}, self.learners - {node_id}, addrs)

    def encode(self) -> bytes:
        body = {"v": sorted(self.voters), "l": sorted(self.learners), "a": dict(self.addrs)}
        return json.dumps(body, sort_keys=True).encode()

    @staticmethod
    def decode(data: bytes) -> Config:
        body = json.loads(data)
        return Config(frozenset(body["v"]), frozenset(body["l"]), tuple(sorted(body["a"].items())))


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0
    config: Config = field(default_factory=Config)


@dataclass(frozen=True, slots=True)
class HardState:
    term: int = 0
    vote: str = ""
    commit: int = 0
    # A member that lost its data withholds its vote until its log reaches this index
    # (0: until it hears a leader, which sets it). None: it votes normally. Durable, so a
    # restart half way through catching up does not make it vote on a partial log.
    vote_floor: int | None = None


@dataclass(slots=True)
class Message:
    type: MsgType
    src: str
    dst: str
    term: int
    group: int = 0
    log_term: int = 0  # APPEND: term at `index`; VOTE: last log term; HEARTBEAT_RESP: the
    # sender's election timeout in ms (0 from members older than that)
    index: int = 0  # APPEND: index preceding `entries`; VOTE: last log index; RESP: match/hint
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0  # APPEND_RESP reject: the follower's last index
    context: bytes = b""  # HEARTBEAT(_RESP): read-index round; VOTE: b"transfer" on transfer;
    # APPEND: b"c" when it only carries the commit index and needs no answer
    snapshot: SnapshotMeta | None = None
