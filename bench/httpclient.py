"""A small HTTP/1.1 keep-alive client on asyncio protocols, for the load generator.

A load generator must cost little next to what it measures: aiohttp's client spends about
120 µs of CPU per request on this class of machine, more than a PhotonDB node spends serving
it, so on a shared 2-core machine the client, not the servers, set the pace. This client
writes each request in one call and parses the answer from the bytes it already has
(Content-Length or chunked bodies), reusing one connection per in-flight request.
Both targets (PhotonDB and etcd) are driven by the same client; `--http aiohttp` selects
aiohttp's instead, for comparison.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class HttpError(OSError):
    """The connection failed or the answer was not HTTP/1.1 we can read."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.reusable = True

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(f"connection closed: {exc or 'by the server'}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            try:
                answer = self._parse()
            except HttpError as error:
                self.reusable = False
                self.waiter.set_exception(error)
                return
            if answer is not None:
                self.waiter.set_result(answer)

    def _parse(self) -> tuple[int, bytes] | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buffer[:end]).split(b"\r\n")
        if not head[0].startswith(b"HTTP/1.") or len(head[0]) < 12:
            raise HttpError(f"not an HTTP/1.x status line: {head[0][:40]!r}")
        status = int(head[0][9:12])
        length, chunked = None, False
        for line in head[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection" and b"close" in value.lower():
                self.reusable = False
        start = end + 4
        if chunked:
            return self._chunked(status, start)
        if length is None:
            raise HttpError("an answer without Content-Length or chunked encoding")
        if len(buffer) < start + length:
            return None
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        return status, body

    def _chunked(self, status: int, start: int) -> tuple[int, bytes] | None:
        buffer, parts, position = self.buffer, [], start
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return None
                del buffer[: trailer_end + 4]
                return status, b"".join(parts)
            chunk_start = line_end + 2
            if len(buffer) < chunk_start + size + 2:
                return None
            parts.append(bytes(buffer[chunk_start : chunk_start + size]))
            position = chunk_start + size + 2

    async def exchange(self, request: bytes, timeout: float) -> tuple[int, bytes]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, self.waiter)
        try:
            self.transport.write(request)
            return await self.waiter
        finally:
            timer.cancel()
            self.waiter = None


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class RawClient:
    """request(endpoint, method, path, body) -> (status, body) over pooled connections."""

    def __init__(self, endpoints: list[str], timeout: float) -> None:
        self.timeout = timeout
        self._hosts: list[tuple[str, int, bytes]] = []
        for url in endpoints:
            parts = urlsplit(url)
            if parts.scheme != "http" or parts.hostname is None:
                raise ValueError(f"only http:// endpoints are supported: {url}")
            port = parts.port or 80
            self._hosts.append((parts.hostname, port, f"{parts.hostname}:{port}".encode()))
        self._idle: list[list[_Connection]] = [[] for _ in endpoints]

    async def request(
        self, endpoint: int, method: str, path: str, body: bytes = b"",
        content_type: str | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        host, port, host_header = self._hosts[endpoint]
        head = f"{method} {path} HTTP/1.1\r\nHost: ".encode() + host_header
        if body or method in ("PUT", "POST"):
            head += b"\r\nContent-Length: " + str(len(body)).encode()
        if content_type:
            head += b"\r\nContent-Type: " + content_type.encode()
        request = head + b"\r\n\r\n" + body
        idle = self._idle[endpoint]
        connection = idle.pop() if idle else None
        if connection is None or connection.transport is None:
            loop = asyncio.get_running_loop()
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port), self.timeout
            )
        try:
            answer = await connection.exchange(request, self.timeout)
        except BaseException:
            if connection.transport is not None:
                connection.transport.close()
            raise
        if connection.reusable and connection.transport is not None and not connection.buffer:
            idle.append(connection)
        elif connection.transport is not None:
            connection.transport.close()
        return answer

    async def close(self) -> None:
        for idle in self._idle:
            for connection in idle:
                if connection.transport is not None:
                    connection.transport.close()
            idle.clear()
