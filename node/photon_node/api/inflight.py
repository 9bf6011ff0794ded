"""Counts requests being handled, so shutdown can wait for them before closing connections.

aiohttp's own graceful shutdown stops reading from connections first, which strands a request
whose body is still arriving; the server therefore stops listening, waits here until in-flight
handlers are done (bounded), and only then lets aiohttp close the connections.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self.closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        self.count += 1
        self._idle.clear()
        try:
            response = await handler(request)
            if self.closing:
                response.force_close()  # no further requests on this connection
            return response
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Return True once no request is in flight, False if the timeout passed first."""
        self.closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False
