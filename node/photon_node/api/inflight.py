"""Counts requests being handled, so shutdown can wait for them before closing connections.

aiohttp's own graceful shutdown stops reading from connections first, which strands a request
whose body is still arriving; the server therefore stops listening, waits here until in-flight
handlers are done (bounded), and only then lets aiohttp close the connections.
"""

from __future__ import annotations

import asyncio


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self.closing = False
        self._idle: asyncio.Event | None = None  # only while shutdown waits

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Return True once no request is in flight, False if the timeout passed first."""
        self.closing = True
        if self.count == 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False
