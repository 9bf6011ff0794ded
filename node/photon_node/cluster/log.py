"""The replicated-log interface the node writes through, and its single-node implementation.

`Log.propose` returns only after the command is durable and applied; the result is the outcome
computed at apply time. The single-node `LocalLog` group-commits: proposals that arrive while a
batch is being fsync'd queue up and are made durable together by the next single fsync, so
throughput grows with concurrency instead of collapsing to one fsync per write. The Raft log
(issue: data plane) implements the same interface, so the API layer does not change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Protocol

from photon_node.core.commands import Command, Result
from photon_node.core.errors import Unavailable
from photon_node.core.metrics import NodeMetrics
from photon_node.storage.engine import Engine

logger = logging.getLogger(__name__)


class Log(Protocol):
    async def propose(self, command: Command) -> Result: ...

    async def read_barrier(self) -> None:
        """Return once reads of local state reflect every write acknowledged before the call."""
        ...

    async def close(self) -> None: ...


class LocalLog:
    def __init__(self, engine: Engine, metrics: NodeMetrics, max_batch: int) -> None:
        self._engine = engine
        self._metrics = metrics
        self._max_batch = max_batch
        self._queue: deque[tuple[Command, asyncio.Future[Result]]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self.failure: BaseException | None = None
        self._task = asyncio.create_task(self._run(), name="group-commit")

    @property
    def alive(self) -> bool:
        return not self._task.done()

    async def propose(self, command: Command) -> Result:
        if self._closing:
            raise Unavailable("the node is shutting down")
        if self.failure is not None:
            raise Unavailable(f"storage has failed: {self.failure}")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        self._wake.set()
        return await asyncio.shield(future)

    async def read_barrier(self) -> None:
        return None  # a single node applies before it acknowledges

    async def _run(self) -> None:
        while not (self._closing and not self._queue):
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            started = time.perf_counter()
            try:
                results = await asyncio.to_thread(self._engine.apply, [c for c, _ in batch])
            except Exception as error:  # the disk failed: fail this batch and everything after
                self._fail(error, batch)
                return
            self._metrics.commit_duration.observe(time.perf_counter() - started)
            self._metrics.commit_batch.observe(len(batch))
            self._metrics.revision.set(self._engine.revision)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _fail(self, error: Exception, batch: list) -> None:
        logger.error("group commit failed, the node stops accepting writes: %s", error)
        self.failure = error
        self._metrics.storage_errors.labels("write").inc()
        pending = batch + list(self._queue)
        self._queue.clear()
        for _, future in pending:
            if not future.done():
                future.set_exception(Unavailable(f"write not made durable: {error}"))

    async def close(self) -> None:
        """Finish every queued proposal, then stop."""
        self._closing = True
        self._wake.set()
        await self._task
