"""The client port's protocol: single-key requests served directly, everything else by aiohttp.

Every connection starts here. A request that is plain HTTP/1.1 for one key — GET, PUT or DELETE
/kv/{key}, a Content-Length body within the limit (or none), no query but `consistency` on a GET,
no Transfer-Encoding, Expect or Upgrade, not already forwarded — is parsed and answered by this
protocol: the same validation (kv.key_from_path, kv.precondition), node calls, forwarding, JSON
errors, in-flight accounting and metrics as the aiohttp handlers, without aiohttp's per-request
objects (routing, Request, Response, middleware frames: about 40 µs of CPU per request, most of
the cost of a read). At the first request that is anything else the connection is handed to
aiohttp for good, with every byte already read, and aiohttp serves it exactly as before: health,
metrics, admin, scans and every 4xx that only aiohttp's parser gives.

Requests on a connection are served one at a time, in order (pipelined ones wait in the buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus

from aiohttp import web

from photon_common import contract
from photon_node.api import kv
from photon_node.api.errors import error_body
from photon_node.api.forward import JSON_TYPE, SESSION, Reply, forward_request
from photon_node.api.inflight import InFlight
from photon_node.api.middleware import KvMetrics
from photon_node.api.requesthead import MAX_HEAD, Request, parse_head
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.core.errors import PhotonError

logger = logging.getLogger(__name__)


class KvServer:
    """What every connection shares: the node, limits, metrics, aiohttp's protocol factory."""

    def __init__(self, app: web.Application, fallback: Callable[[], asyncio.Protocol],
                 inflight: InFlight, metrics: KvMetrics) -> None:  # fmt: skip
        self.app = app
        self.node = app[kv.NODE]
        self.max_body = self.node.settings.max_value_bytes
        self.fallback = fallback
        self.inflight = inflight
        self.metrics = metrics
        self.connections: set[KvProtocol] = set()
        self._date = (0, "")

    def protocol(self) -> KvProtocol:
        return KvProtocol(self)

    def date(self) -> str:
        now = int(time.time())
        if now != self._date[0]:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]

    def close_connections(self) -> None:
        for connection in list(self.connections):
            connection.close()


class KvProtocol(asyncio.Protocol):
    def __init__(self, server: KvServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        # Bytes read and not yet consumed are buffer[offset:]: a request is consumed by moving
        # the offset, not by copying the rest, so a deep pipeline costs linear time.
        self.buffer = bytearray()
        self.offset = 0
        self.busy = False
        self.pending: tuple[Request, int, int] | None = None  # parsed head awaiting its body
        self.task: asyncio.Task | None = None  # the request being served
        # Flow control: stop reading while a full request waits behind a busy one, and stop
        # serving while the client does not read its answers (the transport's buffer is full).
        self.reading_paused = False
        self.writing_paused = False

    # -- connection --------------------------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None
        if self.pending is not None:  # its body never arrived
            self.pending = None
            self.server.inflight.leave()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.offset and self.offset * 2 >= len(self.buffer):
            del self.buffer[: self.offset]  # at most as many bytes as consumed since the last
            self.offset = 0
        self.buffer += data
        if not self.busy:
            self._next()
        if self.busy and self._unread() > self.server.max_body + MAX_HEAD:
            self._pause_reading(True)

    def _unread(self) -> int:
        return len(self.buffer) - self.offset

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if not self.busy:
            self._next()

    def _pause_reading(self, pause: bool) -> None:
        if self.transport is not None and pause != self.reading_paused:
            self.reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _hand_over(self) -> None:
        """aiohttp serves this connection from now on, starting with the bytes read so far."""
        transport, self.transport = self.transport, None
        self.server.connections.discard(self)
        if transport is None or transport.is_closing():
            return
        if self.reading_paused:
            transport.resume_reading()  # aiohttp does its own flow control from here
        protocol = self.server.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        buffer = bytes(self.buffer[self.offset :])
        self.buffer, self.offset = bytearray(), 0
        if buffer:
            protocol.data_received(buffer)

    # -- requests ----------------------------------------------------------------------------
    def _next(self) -> None:
        if self.reading_paused and self._unread() <= self.server.max_body + MAX_HEAD:
            self._pause_reading(False)
        while (
            not self.busy
            and not self.writing_paused
            and self.transport is not None
            and self._unread()
        ):
            if self.pending is None:
                end = self.buffer.find(b"\r\n\r\n", self.offset)
                if end < 0:
                    if self._unread() > MAX_HEAD:
                        self._hand_over()
                    return
                request = parse_head(bytes(self.buffer[self.offset : end]), self.server.max_body)
                if request is None:
                    self._hand_over()
                    return
                # In flight from its head on: shutdown waits for a body still arriving.
                self.server.inflight.enter()
                head = end + 4 - self.offset  # sizes from the offset, which data_received moves
                self.pending = (request, head, head + request.length)
            request, start, total = self.pending
            if self._unread() < total:
                return  # the body is still arriving
            self.pending = None
            body = bytes(self.buffer[self.offset + start : self.offset + total])
            self.offset += total
            if self.offset == len(self.buffer):
                self.buffer, self.offset = bytearray(), 0
            self.busy = True
            self.task = asyncio.get_running_loop().create_task(self._serve(request, body))

    async def _serve(self, request: Request, body: bytes) -> None:
        server = self.server
        started = time.perf_counter()
        status = 500
        try:
            try:
                status, headers, payload = await self._handle(request, body)
            except PhotonError as error:
                if error.status >= 500:
                    logger.warning("%s %s failed: %s", request.method, request.target,
                                   error.message)  # fmt: skip
                status, headers, payload = _json(
                    error.status, error_body(error.code, error.message, error.details)
                )
            except Exception:
                logger.exception("unhandled error serving %s %s", request.method, request.target)
                status, headers, payload = _json(
                    500, error_body("internal", "internal error; see the node's log")
                )
            self._respond(status, headers, payload, request.close or server.inflight.closing)
        finally:
            server.inflight.leave()
            server.metrics.record(request.method.lower(), status, time.perf_counter() - started)
            self.busy = False
            if self.transport is not None:
                self._next()

    async def _handle(self, request: Request, body: bytes) -> Reply:
        node = self.server.node
        key = kv.key_from_path(request.target[len(contract.KV_PREFIX) + 1 :])
        try:
            if request.method == "GET":
                item = await node.get(key, stale=request.stale)
                return 200, *kv.item_reply(item)
            if request.method == "PUT":
                expect, revision = kv.precondition(request.if_match, request.if_none_match, True)
                result = await node.put(key, body, expect, revision)
                reply = kv.written_reply(key, result, created=result.created)
            else:
                expect, revision = kv.precondition(request.if_match, request.if_none_match, False)
                result = await node.delete(key, expect, revision)
                reply = kv.written_reply(key, result, deleted=True)
        except NotLeaderError as error:
            return await self._forward(request, error.leader, body)
        return 200, *reply

    async def _forward(self, request: Request, leader: str, body: bytes) -> Reply:
        optional = (
            ("If-Match", request.if_match),
            ("If-None-Match", request.if_none_match),
            ("Content-Type", request.content_type),
        )
        headers = {name: value for name, value in optional if value is not None}
        target = request.target + ("?consistency=stale" if request.stale else "")
        session = self.server.app[SESSION]
        node = self.server.node
        return await forward_request(session, node, leader, request.method, target, headers, body)

    def _respond(self, status: int, headers: dict[str, str], body: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client went away; the work is done and its outcome is in the log
        lines = [
            f"HTTP/1.1 {status} {_reason(status)}\r\nContent-Length: {len(body)}\r\n"
            f"Date: {self.server.date()}\r\nServer: photon-node\r\n"
        ]
        lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
        if close:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        transport.write("".join(lines).encode("latin-1") + body)
        if close:
            transport.close()


def _json(status: int, body: dict) -> Reply:
    return status, {"Content-Type": JSON_TYPE}, json.dumps(body).encode()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
