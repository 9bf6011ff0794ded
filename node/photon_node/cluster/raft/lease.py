"""The leader's read lease: linearizable reads without a heartbeat round while it holds.

A follower that heard from the leader does not grant a (pre-)vote for an election timeout
(stickiness, with check-quorum), and a node that just started does not either. So once a quorum
of voters acknowledged a heartbeat the leader sent at time `s` (its own monotonic clock), no other
leader can be elected before `s + election timeout` as measured by those followers' tick loops,
which never run faster than real time. The lease ends earlier than that, at `s + duration`, with
`duration` a fraction of the timeout to absorb timer jitter and clock-rate differences.

Members need not share one election timeout: each answers a heartbeat with its own (in ms), and
the lease from a quorum of answers is scaled down to the smallest timeout in the best such
quorum (an answer without one, from an older member, does not count towards a lease). Any
quorum that could elect another leader contains one of these members, which grants no vote
before its own timeout has passed.

The lease is dropped whenever its premise may not hold: on any change of role or term, when a
leadership transfer starts (the transferee campaigns past stickiness), and when the voters change.
Pure bookkeeping: the caller provides the time.
"""

from __future__ import annotations

import struct
from collections import OrderedDict

_SEQ = struct.Struct(">Q")
LEASE_TAG = b"L"  # 9-byte contexts; read contexts are 8 bytes
MAX_TRACKED = 64


class LeaderLease:
    def __init__(self, duration: float, timeout: float = 0.0) -> None:
        """`duration` is the lease for members with this node's election `timeout` (seconds;
        0: unknown, then every member is assumed to have the same one)."""
        self.duration = duration
        self.timeout = timeout
        self.until = float("-inf")
        self._seq = 0
        self._sent: OrderedDict[bytes, float] = OrderedDict()  # context -> first send time
        self._acks: dict[bytes, dict[str, float]] = {}  # context -> member -> its timeout

    @property
    def enabled(self) -> bool:
        return self.duration > 0

    def reset(self) -> None:
        self.until = float("-inf")
        self._sent.clear()
        self._acks.clear()

    def new_context(self) -> bytes:
        self._seq += 1
        return LEASE_TAG + _SEQ.pack(self._seq)

    def sent(self, context: bytes, now: float) -> None:
        """A heartbeat carrying `context` leaves now. The first send time is kept: an answer
        may be to any copy, and the earliest is the safe assumption."""
        if not self.enabled or not context or context in self._sent:
            return
        self._sent[context] = now
        while len(self._sent) > MAX_TRACKED:
            old, _ = self._sent.popitem(last=False)
            self._acks.pop(old, None)

    def acked(
        self, context: bytes, peer: str, me: str, voters: frozenset[str] | set[str],
        peer_timeout: float = 0.0,
    ) -> None:  # fmt: skip
        """`peer` answered the heartbeat carrying `context`; its election timeout is
        `peer_timeout` seconds (0: it did not say)."""
        sent = self._sent.get(context)
        if sent is None or peer not in voters:
            return
        acks = self._acks.get(context)
        if acks is None:
            acks = self._acks[context] = {me: self.timeout} if me in voters else {}
        acks[peer] = peer_timeout
        quorum = len(voters) // 2 + 1
        if len(acks) < quorum:
            return
        if not self.timeout:  # no timeouts known here: all members assumed alike
            self.until = max(self.until, sent + self.duration)
            return
        smallest = sorted(acks.values(), reverse=True)[quorum - 1]  # the best quorum's minimum
        if smallest > 0:
            scale = min(1.0, smallest / self.timeout)
            self.until = max(self.until, sent + self.duration * scale)

    def valid(self, now: float) -> bool:
        return self.enabled and now < self.until
