"""Forwarding: a node that cannot serve a request itself (a follower asked to write or to read
linearizably, a coordinator) passes it to the leader, so clients may talk to any node.

A request is forwarded at most once: one that arrives forwarded and still cannot be served here
gets 503 with Retry-After (a leadership change is in progress). A forwarded write whose answer
is lost may or may not have applied: it is answered 503 `outcome_unknown`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from yarl import URL

from photon_common import contract
from photon_node.api.errors import error_body
from photon_node.cluster.node import Node

SESSION = web.AppKey("forward_session", aiohttp.ClientSession)
_COPY_REQUEST = ("If-Match", "If-None-Match", "Content-Type")
_COPY_RESPONSE = ("Content-Type", contract.REVISION_HEADER, "ETag", "Retry-After")
FORWARD_TIMEOUT = 15.0
JSON_TYPE = "application/json; charset=utf-8"

# (status, headers, body): what the leader answered, or why it could not be asked
Reply = tuple[int, dict[str, str], bytes]


async def session_context(app: web.Application):
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=128)
    timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        app[SESSION] = session
        yield


async def forward(request: web.Request, node: Node, leader: str, body: bytes) -> web.Response:
    status, headers, payload = await forward_request(
        request.app[SESSION], node, leader, request.method, request.raw_path,
        request.headers, body,
    )  # fmt: skip
    return web.Response(status=status, body=payload, headers=headers)


def _error(status: int, code: str, message: str, details: dict | None = None) -> Reply:
    body = json.dumps(error_body(code, message, details)).encode()
    return status, {"Content-Type": JSON_TYPE, "Retry-After": "1"}, body


async def forward_request(
    session: aiohttp.ClientSession,
    node: Node,
    leader: str,
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Reply:
    if contract.FORWARDED_HEADER in headers:
        return _error(503, "not_leader", "no leader here; an election may be under way",
                      {"leader": leader})  # fmt: skip
    target = node.route_to(leader)
    if target is None:
        return _error(503, "no_leader", "no leader is known yet; retry shortly")
    sent = {name: headers[name] for name in _COPY_REQUEST if name in headers}
    sent[contract.FORWARDED_HEADER] = node.id
    url = URL(f"http://{target}{raw_path}", encoded=True)
    try:
        async with session.request(method, url, data=body, headers=sent) as answer:
            payload = await answer.read()
            copied = {k: answer.headers[k] for k in _COPY_RESPONSE if k in answer.headers}
            return answer.status, copied, payload
    except (aiohttp.ClientError, TimeoutError) as error:
        if method in ("PUT", "DELETE"):
            return _error(503, "outcome_unknown", f"the leader at {target} did not answer "
                          f"({error}); the write may or may not have been applied")  # fmt: skip
        return _error(503, "leader_unreachable", f"the leader at {target} did not answer: {error}")
