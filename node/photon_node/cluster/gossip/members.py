"""MemberTable: this node's view of the cluster and the merge rules that keep views converging.

Pure bookkeeping for GossipCore: which record wins (state precedence by incarnation, metadata
by (incarnation, meta_version)), refutation of what others believe about this node, suspicion
expiry and reaping, the events for the service, and which records to piggyback next.
"""

from __future__ import annotations

from dataclasses import replace

from photon_node.cluster.gossip.broadcasts import Broadcasts, retransmit_limit
from photon_node.cluster.gossip.model import (
    ALIVE,
    DEAD,
    LEFT,
    LIVE,
    RANK,
    SUSPECT,
    Member,
    MemberMeta,
    MemberState,
    MemberUpdate,
)

Event = tuple[str, MemberState | None, Member]


class MemberTable:
    def __init__(
        self, local: MemberMeta, incarnation: int, max_piggyback: int, retransmit_mult: int
    ) -> None:
        self.local_id = local.node_id
        self.by_id: dict[str, Member] = {self.local_id: Member(local, ALIVE, incarnation, 0.0)}
        self._broadcasts = Broadcasts()
        self._events: list[Event] = []
        self._max_piggyback = max_piggyback
        self._retransmit_mult = retransmit_mult

    @property
    def me(self) -> Member:
        return self.by_id[self.local_id]

    def others(self, *states: MemberState) -> list[Member]:
        return [m for i, m in self.by_id.items() if i != self.local_id and m.state in states]

    def drain_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    # -- merging ------------------------------------------------------------------------------
    def apply(self, update: MemberUpdate, now: float) -> bool:
        """Merge one gossiped record; True if it made a member newly live (to probe it)."""
        node_id = update.node_id
        if node_id == self.local_id:
            self._about_me(update)
            return False
        member = self.by_id.get(node_id)
        if member is None:
            if update.state not in LIVE:  # never learn a member from news of its death
                return False
            self.by_id[node_id] = Member(update.meta, update.state, update.incarnation, now)
            self._changed(node_id, None)
            return True
        old_state, old_meta = member.state, member.meta
        if (update.incarnation, update.meta.meta_version) > (
            member.incarnation,
            member.meta.meta_version,
        ):
            member.meta = update.meta
        if (update.incarnation, RANK[update.state]) > (member.incarnation, RANK[member.state]):
            _set_state(member, update.state, update.incarnation, now)
        elif member.meta is old_meta:
            return False
        self._broadcasts.push(node_id)
        if member.state is not old_state or member.meta != old_meta:
            self._events.append((node_id, old_state, replace(member)))
        return old_state not in LIVE and member.state in LIVE

    def _about_me(self, update: MemberUpdate) -> None:
        """Someone believes something of this node: refute anything but our own current record
        by outbidding its incarnation (also how a restarted process takes over its old record)."""
        me = self.me
        if me.state is LEFT or update.incarnation < me.incarnation:
            return
        if update.incarnation == me.incarnation and update.state is ALIVE:
            theirs, mine = update.meta.meta_version, me.meta.meta_version
            if theirs < mine or (theirs == mine and _identity(update.meta) == _identity(me.meta)):
                return  # our own record, or an older one of this process: nothing to refute
        me.incarnation = update.incarnation + 1
        self._broadcasts.push(self.local_id)
        if update.state is not ALIVE:
            self._events.append((self.local_id, update.state, replace(me)))

    # -- local decisions ----------------------------------------------------------------------
    def transition(self, member: Member, state: MemberState, now: float) -> None:
        """A state change this node decides itself (suspect, dead, left) at the same incarnation."""
        old = member.state
        _set_state(member, state, member.incarnation, now)
        self._changed(member.meta.node_id, old)

    def update_local(self, meta: MemberMeta) -> None:
        me = self.me
        if me.state is LEFT or replace(meta, meta_version=me.meta.meta_version) == me.meta:
            return
        me.meta = replace(meta, meta_version=max(me.meta.meta_version, meta.meta_version) + 1)
        self._changed(self.local_id, me.state)

    def expire(self, now: float, suspicion_timeout: float, reap_after: float) -> None:
        for node_id, member in list(self.by_id.items()):
            if member.state is SUSPECT and now >= member.state_since + suspicion_timeout:
                self.transition(member, DEAD, now)
            elif (
                member.state in (DEAD, LEFT)
                and node_id != self.local_id
                and now >= member.state_since + reap_after
            ):
                del self.by_id[node_id]
                self._broadcasts.discard(node_id)

    def _changed(self, node_id: str, old: MemberState | None) -> None:
        self._broadcasts.push(node_id)
        self._events.append((node_id, old, replace(self.by_id[node_id])))

    # -- outgoing -----------------------------------------------------------------------------
    def piggyback(self, about: str | None) -> tuple[MemberUpdate, ...]:
        """Queued records for one message; a member we do not believe ALIVE gets its own record
        first, so a suspected or dead node learns it at once and can refute."""
        first: tuple[str, ...] = ()
        subject = self.by_id.get(about) if about else None
        if subject is not None and subject.state is not ALIVE:
            first = (subject.meta.node_id,)
        limit = retransmit_limit(self._retransmit_mult, len(self.by_id))
        ids = self._broadcasts.take(self._max_piggyback, limit, first)
        return tuple(update_of(self.by_id[i]) for i in ids if i in self.by_id)

    def snapshot(self) -> tuple[MemberUpdate, ...]:
        return tuple(update_of(m) for m in self.by_id.values())


def update_of(member: Member) -> MemberUpdate:
    return MemberUpdate(member.meta, member.state, member.incarnation)


def _set_state(member: Member, state: MemberState, incarnation: int, now: float) -> None:
    if state is not member.state or (state is SUSPECT and incarnation != member.incarnation):
        member.state_since = now  # a new suspicion (even of a new incarnation) restarts the timer
    member.state, member.incarnation = state, incarnation


def _identity(meta: MemberMeta) -> MemberMeta:
    """The metadata without its metrics snapshot (which codec.py may truncate to fit a datagram)."""
    return replace(meta, metrics=())
