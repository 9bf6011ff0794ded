"""Who waits on the Raft loop, and how each caller is answered or failed.

- Writes proposed on this node, by request id: answered when this node applies the entry that
  carries the id (wherever the leader appended it); failed with OutcomeUnknown when the leader
  they went to is gone, since they may still commit.
- Configuration changes, by log index and the term they were appended in: answered when the
  entry at that index applies in that term.
- Linearizable reads: waiting for the next ReadIndex round, then in a round (by its context)
  until the leader confirms it, then until this node has applied the round's index.

The driver owns the loop and calls these as the loop learns each outcome.
"""

from __future__ import annotations

import asyncio
import time

from photon_node.cluster.raft.errors import NotLeaderError, OutcomeUnknown
from photon_node.core.commands import CodecError, unwrap
from photon_node.core.errors import Unavailable
from photon_node.core.metrics import NodeMetrics
from photon_node.core.rafttypes import Entry


class Callers:
    def __init__(self, node_id: str, metrics: NodeMetrics) -> None:
        self.id = node_id
        self.metrics = metrics
        self.requests: dict[int, asyncio.Future] = {}  # our commands by request id
        self.changes: dict[int, tuple[int, asyncio.Future]] = {}  # by index: (term, future)
        self.read_waiters: list[asyncio.Future] = []  # for the next ReadIndex round
        self._reads_inflight: dict[bytes, list[asyncio.Future]] = {}  # by round context
        self._reads_ready: list[tuple[int, list[asyncio.Future]]] = []  # (index to apply, ...)
        self._committed = metrics.raft_proposals.labels("committed")
        self._dropped = metrics.raft_proposals.labels("dropped")

    # -- reads ---------------------------------------------------------------------------------
    def take_read_waiters(self) -> list[asyncio.Future]:
        waiters, self.read_waiters = self.read_waiters, []
        return waiters

    def read_started(self, context: bytes, waiters: list[asyncio.Future]) -> None:
        self._reads_inflight[context] = waiters

    def read_confirmed(self, context: bytes, index: int) -> None:
        """The leader confirmed the round: its reads proceed once `index` is applied here."""
        self._reads_ready.append((index, self._reads_inflight.pop(context, [])))

    def release_reads(self, applied: int) -> None:
        keep = []
        for index, futures in self._reads_ready:
            if applied >= index:
                for future in futures:
                    if not future.done():
                        future.set_result(None)
            else:
                keep.append((index, futures))
        self._reads_ready = keep

    # -- outcomes ------------------------------------------------------------------------------
    def complete(self, entries: list[Entry], results: list) -> None:
        """Answer the callers whose commands (or configuration changes) were just applied."""
        now = time.perf_counter()
        for entry, result in zip(entries, results, strict=True):
            if result is not None:
                try:
                    origin, request_id, _ = unwrap(entry.data)
                except CodecError:
                    continue
                future = self.requests.pop(request_id, None) if origin == self.id else None
                if future is not None and not future.done():
                    self._committed.inc()
                    started = getattr(future, "proposed_at", now)
                    self.metrics.raft_replication_seconds.observe(now - started)
                    future.set_result(result)
                continue
            waiting = self.changes.pop(entry.index, None)
            if waiting is not None and not waiting[1].done():
                term, future = waiting
                if term == entry.term:
                    future.set_result(None)
                else:
                    future.set_exception(Unavailable("leadership changed; change not applied"))

    def fail_changes(self, error: Exception) -> None:
        """Leadership was lost (or a snapshot replaced the state): fail the configuration
        changes with `error` and the reads of every round with NotLeaderError."""
        changes, self.changes = self.changes, {}
        for _, future in changes.values():
            if not future.done():
                self._dropped.inc()
                future.set_exception(error)
        reads = [f for fs in self._reads_inflight.values() for f in fs]
        reads += [f for _, fs in self._reads_ready for f in fs]
        self._reads_inflight, self._reads_ready = {}, []
        fail(reads, NotLeaderError(""))

    def fail_requests(self) -> None:
        """The leader changed: the writes forwarded to the old one may or may not commit, and
        the reads it was confirming must ask the new one."""
        requests, self.requests = self.requests, {}
        for future in requests.values():
            if not future.done():
                self._dropped.inc()
                future.set_exception(OutcomeUnknown("the leader changed; the write may not apply"))
        reads = [f for fs in self._reads_inflight.values() for f in fs]
        self._reads_inflight = {}
        fail(reads, NotLeaderError(""))

    def fail_all(self, error: Exception) -> None:
        """The loop stopped: every caller gets `error` (reads in a round, NotLeaderError)."""
        self.fail_changes(error)
        fail(self.requests.values(), error)
        fail(self.take_read_waiters(), error)


def fail(futures, error: Exception) -> None:
    """Fail every future not yet answered with `error`."""
    for future in futures:
        if not future.done():
            future.set_exception(error)
