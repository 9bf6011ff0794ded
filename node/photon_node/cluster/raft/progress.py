"""What a leader knows about each follower's log (etcd-raft's Progress, simplified)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum


class ProgressState(Enum):
    PROBE = "probe"  # one append at a time until the follower's position is found
    REPLICATE = "replicate"  # pipelined appends, up to max_inflight in flight
    SNAPSHOT = "snapshot"  # a snapshot is being sent; appends wait


@dataclass
class Progress:
    match: int = 0
    next: int = 1
    state: ProgressState = ProgressState.PROBE
    paused: bool = False
    pending_snapshot: int = 0
    recent_active: bool = True
    inflight: deque[int] = field(default_factory=deque)  # last index of each append in flight

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self.state = ProgressState.PROBE
        self.paused = False
        self.pending_snapshot = 0
        self.inflight.clear()

    def become_replicate(self) -> None:
        self.state = ProgressState.REPLICATE
        self.next = self.match + 1
        self.paused = False
        self.inflight.clear()

    def become_snapshot(self, index: int) -> None:
        self.state = ProgressState.SNAPSHOT
        self.pending_snapshot = index
        self.inflight.clear()

    def update(self, index: int) -> bool:
        """An append up to index was acknowledged. True if match advanced."""
        advanced = index > self.match
        if advanced:
            self.match = index
            self.paused = False
        self.next = max(self.next, index + 1)
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        return advanced

    def rejected(self, rejected_index: int, hint: int) -> bool:
        """An append after rejected_index was refused; False if the rejection is stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected_index <= self.match:
                if hint >= self.match:
                    return False  # a late answer to an append sent before it caught up
                self.match = hint  # it lost entries it had acknowledged: a wiped disk
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected_index:
            return False
        self.next = max(min(rejected_index, hint + 1), 1)
        self.match = min(self.match, self.next - 1)
        self.paused = False
        return True

    def blocked(self, max_inflight: int) -> bool:
        if self.state is ProgressState.SNAPSHOT:
            return True
        if self.state is ProgressState.PROBE:
            return self.paused
        return len(self.inflight) >= max_inflight
