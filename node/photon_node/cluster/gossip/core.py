"""GossipCore: SWIM membership as a pure, deterministic state machine.

No I/O, no wall clock, no global random: time comes in as `now` (any monotonic clock), randomness
from the injected `random.Random`, and every call returns the datagrams to send as Outbound
values. The same inputs always give the same outputs, which is what the simulation relies on.
The rules (state precedence, refutation, timing bounds) are written down in DESIGN.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from photon_node.cluster.gossip.members import Event, MemberTable, update_of
from photon_node.cluster.gossip.model import (
    ALIVE,
    DEAD,
    LEFT,
    LIVE,
    SUSPECT,
    Ack,
    GossipTimings,
    Leave,
    Member,
    MemberMeta,
    MemberState,
    Message,
    Outbound,
    Ping,
    PingReq,
    PushPull,
)

__all__ = ["GossipCore", "GossipTimings", "Member", "MemberMeta", "MemberState", "Outbound"]


@dataclass
class _Probe:
    target: str
    seq: int
    started: float
    indirect_sent: bool = False


@dataclass(frozen=True)
class _Relay:
    """A ping sent on behalf of a PingReq: its Ack goes back to the requester with its seq."""

    addr: str
    seq: int
    expires: float


class GossipCore:
    def __init__(
        self,
        local: MemberMeta,
        rng: random.Random,
        *,
        probe_interval: float = 1.0,
        probe_timeout: float = 0.4,
        indirect_probes: int = 3,
        suspicion_timeout: float = 5.0,
        dead_reap_after: float = 3600.0,
        push_pull_interval: float = 10.0,
        max_piggyback: int = 8,
        retransmit_mult: int = 4,
        incarnation: int = 0,
    ) -> None:
        if not 0 < probe_timeout < probe_interval:
            raise ValueError("probe_timeout must be positive and shorter than probe_interval")
        self._id = local.node_id
        self._rng = rng
        self._t = GossipTimings(
            probe_interval, probe_timeout, indirect_probes, suspicion_timeout,
            dead_reap_after, push_pull_interval, max_piggyback, retransmit_mult,
        )  # fmt: skip
        self._table = MemberTable(local, incarnation, max_piggyback, retransmit_mult)
        self._seq = rng.getrandbits(32)
        self._probe: _Probe | None = None
        self._order: list[str] = []
        self._order_pos = 0
        self._relays: dict[int, _Relay] = {}
        self._next_probe: float | None = None
        self._next_push_pull = 0.0

    # -- queries ------------------------------------------------------------------------------
    @property
    def node_id(self) -> str:
        return self._id

    @property
    def local(self) -> MemberMeta:
        return self._table.me.meta

    @property
    def left(self) -> bool:
        return self._table.me.state is LEFT

    def members(self) -> dict[str, Member]:
        return {node_id: replace(member) for node_id, member in self._table.by_id.items()}

    def drain_events(self) -> list[Event]:
        return self._table.drain_events()

    def is_alone(self) -> bool:
        """No other member is alive or suspect: time to (re)join through the seeds."""
        return not self._table.others(ALIVE, SUSPECT)

    def next_deadline(self) -> float:
        """Core clock time at which tick() next has work; 0.0 before the first call with `now`."""
        if self._next_probe is None:
            return 0.0
        times = [self._next_probe, self._next_push_pull]
        if self._probe is not None:
            times.append(self._probe.started + self._t.probe_interval)
            if not self._probe.indirect_sent:
                times.append(self._probe.started + self._t.probe_timeout)
        suspicion = self._t.suspicion_timeout
        times.extend(m.state_since + suspicion for m in self._table.others(SUSPECT))
        return min(times)

    # -- inputs -------------------------------------------------------------------------------
    def update_local(self, meta: MemberMeta) -> None:
        if meta.node_id != self._id:
            raise ValueError(f"update_local for {meta.node_id!r}, but this node is {self._id!r}")
        self._table.update_local(meta)

    def tick(self, now: float) -> list[Outbound]:
        self._start(now)
        out: list[Outbound] = []
        if self.left:
            return out
        self._check_probe(now, out)
        if self._probe is None and self._next_probe is not None and now >= self._next_probe:
            self._start_probe(now, out)
        self._table.expire(now, self._t.suspicion_timeout, self._t.dead_reap_after)
        for seq in [s for s, relay in self._relays.items() if relay.expires <= now]:
            del self._relays[seq]
        if now >= self._next_push_pull:
            self._next_push_pull = now + self._t.push_pull_interval
            # one live peer, plus one dead one: the reconnect that heals a partition
            for candidates in (self._table.others(ALIVE, SUSPECT), self._table.others(DEAD)):
                if candidates:
                    target = self._rng.choice(candidates).meta.peer_addr
                    state = self._table.snapshot()
                    out.append(Outbound(target, PushPull(self._id, state, reply=True)))
        return out

    def receive(self, src_addr: str, message: Message, now: float) -> list[Outbound]:
        self._start(now)
        if self.left or message.source == self._id:
            return []
        updates = message.states if isinstance(message, PushPull) else message.updates
        for update in updates:
            if self._table.apply(update, now):
                self._add_to_probe_order(update.node_id)
        out: list[Outbound] = []
        if isinstance(message, Ping):
            if message.target == self._id:
                ack = Ack(message.seq, self._id, self._table.piggyback(message.source))
                out.append(Outbound(src_addr, ack))
        elif isinstance(message, Ack):
            if self._probe is not None and message.seq == self._probe.seq:
                self._probe = None
            relay = self._relays.pop(message.seq, None)
            if relay is not None:
                forward = Ack(relay.seq, self._id, self._table.piggyback(None))
                out.append(Outbound(relay.addr, forward))
        elif isinstance(message, PingReq):
            seq = self._next_seq()
            self._relays[seq] = _Relay(src_addr, message.seq, now + self._t.probe_interval)
            ping = Ping(seq, self._id, message.target, self._table.piggyback(message.target))
            out.append(Outbound(message.target_addr, ping))
        elif isinstance(message, PushPull) and message.reply:
            out.append(Outbound(src_addr, PushPull(self._id, self._table.snapshot(), reply=False)))
        return out

    def join(self, seed_addrs: list[str], now: float) -> list[Outbound]:
        """Push-pull with every seed; call again (re-resolved) while is_alone()."""
        self._start(now)
        if self.left:
            return []
        own, state = self._table.me.meta.peer_addr, self._table.snapshot()
        return [
            Outbound(addr, PushPull(self._id, state, reply=True))
            for addr in dict.fromkeys(seed_addrs)
            if addr != own
        ]

    def leave(self, now: float) -> list[Outbound]:
        """Mark this node LEFT and tell every live member; the core is inert afterwards."""
        self._start(now)
        if self.left:
            return []
        me = self._table.me
        self._table.transition(me, LEFT, now)
        message = Leave(self._id, (update_of(me),))
        return [Outbound(m.meta.peer_addr, message) for m in self._table.others(ALIVE, SUSPECT)]

    # -- probing ------------------------------------------------------------------------------
    def _start(self, now: float) -> None:
        if self._next_probe is None:
            self._table.me.state_since = now
            self._next_probe = now + self._rng.uniform(0, self._t.probe_interval)
            self._next_push_pull = now + self._rng.uniform(0, self._t.push_pull_interval)

    def _check_probe(self, now: float, out: list[Outbound]) -> None:
        probe = self._probe
        if probe is None:
            return
        target = self._table.by_id.get(probe.target)
        if target is None or target.state not in LIVE:
            self._probe = None
        elif now >= probe.started + self._t.probe_interval:
            self._probe = None
            if target.state is ALIVE:
                self._table.transition(target, SUSPECT, now)
        elif not probe.indirect_sent and now >= probe.started + self._t.probe_timeout:
            probe.indirect_sent = True
            helpers = [m for m in self._table.others(ALIVE) if m is not target]
            for helper in self._rng.sample(helpers, min(self._t.indirect_probes, len(helpers))):
                request = PingReq(
                    probe.seq, self._id, probe.target, target.meta.peer_addr,
                    self._table.piggyback(None),
                )  # fmt: skip
                out.append(Outbound(helper.meta.peer_addr, request))

    def _start_probe(self, now: float, out: list[Outbound]) -> None:
        self._next_probe = now + self._t.probe_interval
        target_id = self._next_target()
        if target_id is None:
            return
        self._probe = _Probe(target_id, self._next_seq(), now)
        ping = Ping(self._probe.seq, self._id, target_id, self._table.piggyback(target_id))
        out.append(Outbound(self._table.by_id[target_id].meta.peer_addr, ping))

    def _next_target(self) -> str | None:
        """Round-robin over a shuffled list: every live member is probed within 2n-1 periods."""
        for _ in range(2):
            while self._order_pos < len(self._order):
                node_id = self._order[self._order_pos]
                self._order_pos += 1
                member = self._table.by_id.get(node_id)
                if member is not None and member.state in LIVE:
                    return node_id
            self._order = [m.meta.node_id for m in self._table.others(ALIVE, SUSPECT)]
            self._rng.shuffle(self._order)
            self._order_pos = 0
        return None

    def _add_to_probe_order(self, node_id: str) -> None:
        self._order.insert(self._rng.randint(self._order_pos, len(self._order)), node_id)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % (1 << 63)
        return self._seq
