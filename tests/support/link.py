"""A TCP link on loopback that a test can cut: a forwarder from a port of its own to a target.

Peers dial one another (each direction is its own connection), so giving some nodes the link's
port as another node's address makes their traffic to it pass through the link. `cut()` closes
every connection through it and refuses new ones: those nodes can no longer reach the target,
while the target still reaches them directly (a one-way partition). `limit(n)` lets n more bytes
through towards the target and then cuts; `restore()` lets everything through again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support.nodeproc import free_port


class Link:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port, self.port = host, target_port, free_port()
        self._cut = False
        self._budget: int | None = None  # bytes still allowed towards the target
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="link", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the link did not start")

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)

    def limit(self, budget: int) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "_budget", budget)

    def restore(self) -> None:
        def reopen() -> None:
            self._cut, self._budget = False, None

        self._loop.call_soon_threadsafe(reopen)

    @property
    def is_cut(self) -> bool:
        return self._cut

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _close_all(self) -> None:
        self._cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pump(reader, up_writer, towards_target=True),
            self._pump(up_reader, writer, towards_target=False),
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, towards_target: bool
    ) -> None:
        try:
            while not self._cut and (data := await reader.read(65536)):
                if towards_target and self._budget is not None:
                    if len(data) >= self._budget:
                        writer.write(data[: self._budget])
                        await writer.drain()
                        await self._close_all()
                        return
                    self._budget -= len(data)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()
