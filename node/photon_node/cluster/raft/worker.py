"""One long-lived thread for the Raft loop's blocking storage calls (the fsync of each Ready).

`asyncio.to_thread` goes through the default executor: a contextvars copy, a
concurrent.futures.Future chained to an asyncio one, and whichever of several pool threads wakes.
On the hot path (one call per Ready) that overhead showed up in profiles; this is the minimal
version: a C-implemented queue to one thread that resolves an asyncio future when done. Calls run
in submission order, which also keeps the log's writes ordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class StorageWorker:
    def __init__(self, name: str = "raft-storage") -> None:
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, function: Callable[..., Any], *args: Any) -> asyncio.Future:
        """Run function(*args) on the worker thread; await the returned future for its result."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._calls.put((loop, future, function, args))
        return future

    async def close(self) -> None:
        """Finish the calls already queued, then end the thread."""
        self._calls.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not _STOP:
            loop, future, function, args = call
            try:
                outcome, error = function(*args), None
            except BaseException as caught:  # handed to the awaiting coroutine
                outcome, error = None, caught
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, future, outcome, error)


def _settle(future: asyncio.Future, outcome: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(outcome)
