"""Membership data: what a node advertises (MemberMeta), what the others believe of it (Member),
and the gossip messages that carry both. Plain typed dataclasses without behaviour; the rules
live in core.py and the wire format in codec.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class MemberMeta:
    """What a node says about itself. Only its owner changes it (see GossipCore.update_local)."""

    node_id: str
    peer_addr: str  # "host:port" advertised for peers (Raft TCP + gossip UDP)
    client_addr: str  # "host:port" of the client HTTP API
    roles: tuple[str, ...]  # e.g. ("data",)
    version: str  # software version
    protocol: int  # protocol version this node speaks now
    min_protocol: int  # oldest protocol it can still speak
    features: tuple[str, ...] = ()
    draining: bool = False
    storage_ok: bool = True
    metrics: tuple[tuple[str, float], ...] = ()  # small snapshot, e.g. (("revision", 12.0),)
    meta_version: int = 0  # bumped by the owner on every metadata change


class MemberState(enum.Enum):
    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"
    LEFT = "left"


ALIVE, SUSPECT = MemberState.ALIVE, MemberState.SUSPECT
DEAD, LEFT = MemberState.DEAD, MemberState.LEFT

# At equal incarnation the higher rank wins; LEFT is final for its incarnation.
RANK = {ALIVE: 0, SUSPECT: 1, DEAD: 2, LEFT: 3}
LIVE = frozenset({ALIVE, SUSPECT})


@dataclass
class Member:
    """This node's belief about one member (itself included)."""

    meta: MemberMeta
    state: MemberState
    incarnation: int
    state_since: float  # core clock time of the last state change


@dataclass(frozen=True)
class MemberUpdate:
    """One member's record as gossiped: its metadata, its state as the sender believes it, and the
    incarnation that state belongs to."""

    meta: MemberMeta
    state: MemberState
    incarnation: int

    @property
    def node_id(self) -> str:
        return self.meta.node_id


@dataclass(frozen=True)
class Ping:
    """Are you alive? Answered with an Ack of the same seq, only by the node named in target."""

    seq: int
    source: str
    target: str
    updates: tuple[MemberUpdate, ...] = ()


@dataclass(frozen=True)
class Ack:
    seq: int
    source: str
    updates: tuple[MemberUpdate, ...] = ()


@dataclass(frozen=True)
class PingReq:
    """Ping target (at target_addr) for me and forward its Ack with my seq: the indirect probe."""

    seq: int
    source: str
    target: str
    target_addr: str
    updates: tuple[MemberUpdate, ...] = ()


@dataclass(frozen=True)
class PushPull:
    """Full-state anti-entropy: merge `states`; if `reply`, answer with your own."""

    source: str
    states: tuple[MemberUpdate, ...]
    reply: bool = False


@dataclass(frozen=True)
class Leave:
    """Sent to every live member by a node that leaves gracefully; updates carry its LEFT record."""

    source: str
    updates: tuple[MemberUpdate, ...] = ()


Message = Ping | Ack | PingReq | PushPull | Leave


@dataclass(frozen=True)
class Outbound:
    addr: str  # "host:port" destination
    message: Message


@dataclass(frozen=True)
class GossipTimings:
    """The core's tuning knobs, as one value (GossipCore(local, rng, **asdict(timings)))."""

    probe_interval: float = 1.0
    probe_timeout: float = 0.4
    indirect_probes: int = 3
    suspicion_timeout: float = 5.0
    dead_reap_after: float = 3600.0
    push_pull_interval: float = 10.0
    max_piggyback: int = 8
    retransmit_mult: int = 4
