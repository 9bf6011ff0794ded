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

A bounded linger keeps the next round from starting with fewer proposals than the last one
carried, for at most `linger` seconds (default 5 ms) after a round commits and at most twice as
long as that round took. Under a closed-loop load the last round's proposers send their next
writes one hop after they are answered, followers' clients a few hops later; a round that starts
without them splits them over two rounds, and every member then pays a full round (an fsync, the
frames, the wake-ups) for half as many entries. With the linger, at 8 clients on three nodes,
rounds carry 6-8 entries instead of about 4, with less CPU per write and a lower p99 (the README's
benchmark section). A lone client never waits: one proposal is as many as its last round carried.

Only a leader holds anything: a follower forwards at once (the leader decides), and a node
that stops leading releases what it held into its core, which drops or forwards it like any
proposal that reaches a non-leader. `limit` 0 means no bound.
"""

from __future__ import annotations

from collections import deque

from photon_node.core.rafttypes import Message


class RoundGate:
    def __init__(self, limit: int, linger: float = 0.0) -> None:
        self.limit = limit
        self.linger = linger  # seconds the next round may wait for as many as the last carried
        self.held: list[Message] = []  # PROPOSE messages from followers, in arrival order
        # Each round in flight: its last log index (ascending) and when it started.
        self._ends: deque[tuple[int, float]] = deque()
        self._last_size = 0  # entries in the last round started
        self._committed_at = float("-inf")  # when a round last committed (monotonic seconds)
        self._last_took = float("inf")  # how long that round took, start to commit

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def closed(self, leading: bool, committed: int, now: float = 0.0) -> bool:
        """True while new proposals must wait: this node leads and `limit` rounds are not
        yet committed. `now` (monotonic seconds) dates a round that is found committed."""
        ends = self._ends
        if not leading:
            ends.clear()
            return False
        if ends and ends[0][0] <= committed:
            while ends and ends[0][0] <= committed:
                _, started_at = ends.popleft()
            self._committed_at, self._last_took = now, now - started_at
        return self.enabled and len(ends) >= self.limit

    def lingers(self, waiting: int, now: float) -> float:
        """Seconds the next round should still wait for more proposals (0: start it now).
        It waits while fewer than the last round's entries are waiting, after a round
        committed, for at most `linger` and at most twice as long as that round took: a
        proposal that misses this round waits for it and then for its own, about two rounds,
        and every round saved saves a round's CPU on every member. With nothing waiting there
        is nothing to start."""
        if not (self.enabled and 0 < waiting < self._last_size):
            return 0.0
        return max(0.0, self._committed_at + min(self.linger, 2 * self._last_took) - now)

    def started(self, leading: bool, last_index: int, committed: int, now: float = 0.0) -> None:
        """Record the round that ends at `last_index`, started at `now`, if the log grew
        past the last one."""
        previous = self._ends[-1][0] if self._ends else committed
        if leading and last_index > previous:
            self._ends.append((last_index, now))
            self._last_size = last_index - previous

    def release(self) -> list[Message]:
        held, self.held = self.held, []
        return held

    def in_flight(self, committed: int) -> int:
        return sum(1 for end, _ in self._ends if end > committed)

    @property
    def held_entries(self) -> int:
        return sum(len(message.entries) for message in self.held)
