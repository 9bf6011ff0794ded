"""Forwarding: a node that cannot serve a request itself (a follower asked to write or to read
linearizably, a coordinator) passes it to the leader, so clients may talk to any node.

A request is forwarded at most once: one that arrives forwarded and still cannot be served here
gets 503 with Retry-After (a leadership change is in progress). A forwarded write whose answer
is lost may or may not have applied: it is answered 503 `outcome_unknown`.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web
from yarl import URL

from photon_common import contract
from photon_node.api.errors import error_response
from photon_node.cluster.node import Node

SESSION = web.AppKey("forward_session", aiohttp.ClientSession)
_COPY_REQUEST = ("If-Match", "If-None-Match", "Content-Type")
_COPY_RESPONSE = ("Content-Type", contract.REVISION_HEADER, "ETag", "Retry-After")
FORWARD_TIMEOUT = 15.0


async def session_context(app: web.Application):
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=128)
    timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        app[SESSION] = session
        yield


async def forward(request: web.Request, node: Node, leader: str, body: bytes) -> web.Response:
    retry = {"Retry-After": "1"}
    if contract.FORWARDED_HEADER in request.headers:
        return error_response(503, "not_leader", "no leader here; an election may be under way",
                              {"leader": leader}, retry)  # fmt: skip
    target = node.route_to(leader)
    if target is None:
        return error_response(503, "no_leader", "no leader is known yet; retry shortly",
                              headers=retry)  # fmt: skip
    headers = {name: request.headers[name] for name in _COPY_REQUEST if name in request.headers}
    headers[contract.FORWARDED_HEADER] = node.id
    url = URL(f"http://{target}{request.raw_path}", encoded=True)
    try:
        async with request.app[SESSION].request(
            request.method, url, data=body, headers=headers
        ) as answer:
            payload = await answer.read()
            copied = {k: answer.headers[k] for k in _COPY_RESPONSE if k in answer.headers}
            return web.Response(status=answer.status, body=payload, headers=copied)
    except (aiohttp.ClientError, TimeoutError) as error:
        if request.method in ("PUT", "DELETE"):
            return error_response(503, "outcome_unknown",
                                  f"the leader at {target} did not answer ({error}); the write "
                                  "may or may not have been applied", headers=retry)  # fmt: skip
        return error_response(503, "leader_unreachable", f"the leader at {target} did not "
                              f"answer: {error}", headers=retry)  # fmt: skip
