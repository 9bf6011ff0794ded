"""Round batching on the leader: at most `limit` replication rounds in flight.

A round is what the leader appends in one go: one Ready, one fsync on each member, one APPEND
to each follower and its answer. Each round costs every member about the same (wake-ups, an
fsync, a few frames through the event loop) however many entries it carries, so the entries
per round decide the CPU per write.

With rounds pipelined without a bound, every Ready that found a new proposal started a round,
and under a closed-loop load they stayed small (about 2.5 entries at 8 clients, three nodes).
With a bound, proposals that arrive while `limit` rounds are uncommitted (the leader's own and
the batches followers forward in PROPOSE messages) wait here; when the oldest round commits
they are appended together as the next round, whose APPEND also carries the commit index of
the last one. Rounds then carry everything that arrived meanwhile: fewer, larger rounds, less
CPU per write and no longer latency (see bench/README.md for the measurements).

Only a leader holds anything: a follower forwards at once (the leader decides), and a node
that stops leading releases what it held into its core, which drops or forwards it like any
proposal that reaches a non-leader. `limit` 0 means no bound.
"""

from __future__ import annotations

from collections import deque

from photon_node.core.rafttypes import Message


class RoundGate:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: list[Message] = []  # PROPOSE messages from followers, in arrival order
        self._ends: deque[int] = deque()  # last log index of each round in flight, ascending

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def closed(self, leading: bool, committed: int) -> bool:
        """True while new proposals must wait: this node leads and `limit` rounds are not
        yet committed."""
        ends = self._ends
        if not leading:
            ends.clear()
            return False
        while ends and ends[0] <= committed:
            ends.popleft()
        return self.enabled and len(ends) >= self.limit

    def started(self, leading: bool, last_index: int, committed: int) -> None:
        """Record the round that ends at `last_index`, if the log grew past the last one."""
        if leading and last_index > (self._ends[-1] if self._ends else committed):
            self._ends.append(last_index)

    def release(self) -> list[Message]:
        held, self.held = self.held, []
        return held

    def in_flight(self, committed: int) -> int:
        return sum(1 for end in self._ends if end > committed)

    @property
    def held_entries(self) -> int:
        return sum(len(message.entries) for message in self.held)
