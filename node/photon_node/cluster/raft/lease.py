"""The leader's read lease: linearizable reads without a heartbeat round while it holds.

A follower that heard from the leader does not grant a (pre-)vote for an election timeout
(stickiness, with check-quorum), and a node that just started does not either. So once a quorum
of voters acknowledged a heartbeat the leader sent at time `s` (its own monotonic clock), no other
leader can be elected before `s + election timeout` as measured by those followers' tick loops,
which never run faster than real time. The lease ends earlier than that, at `s + duration`, with
`duration` a fraction of the timeout to absorb timer jitter and clock-rate differences.

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
    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.until = float("-inf")
        self._seq = 0
        self._sent: OrderedDict[bytes, float] = OrderedDict()  # context -> first send time
        self._acks: dict[bytes, set[str]] = {}

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

    def acked(self, context: bytes, peer: str, me: str, voters: frozenset[str] | set[str]) -> None:
        """`peer` answered the heartbeat carrying `context`."""
        sent = self._sent.get(context)
        if sent is None or peer not in voters:
            return
        acks = self._acks.setdefault(context, {me} & set(voters))
        acks.add(peer)
        if len(acks) >= len(voters) // 2 + 1:
            self.until = max(self.until, sent + self.duration)

    def valid(self, now: float) -> bool:
        return self.enabled and now < self.until
