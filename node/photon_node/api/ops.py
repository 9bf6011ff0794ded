"""Operational endpoints: health probes, Prometheus metrics, cluster status and drain."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from photon_node.api.kv import NODE
from photon_node.cluster.health import Check
from photon_node.cluster.raft.errors import NotLeaderError
from photon_node.core.errors import Conflict, InvalidRequest


def _probe(checks: list[Check]) -> web.Response:
    lines = [f"[+]{c.name} ok" if c.ok else f"[-]{c.name} failed: {c.reason}" for c in checks]
    healthy = all(check.ok for check in checks)
    return web.Response(
        text="\n".join(lines) + "\n", status=200 if healthy else 503, content_type="text/plain"
    )


async def live(request: web.Request) -> web.Response:
    return _probe(request.app[NODE].live_checks())


async def ready(request: web.Request) -> web.Response:
    return _probe(request.app[NODE].ready_checks())


async def startup(request: web.Request) -> web.Response:
    return _probe(request.app[NODE].startup_checks())


async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(request.app[NODE].metrics.exposition)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def cluster_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[NODE].status())


async def drain_start(request: web.Request) -> web.Response:
    status = await request.app[NODE].start_drain()
    return web.json_response(status, status=200 if status["drained"] else 202)


async def drain_get(request: web.Request) -> web.Response:
    return web.json_response(request.app[NODE].drain_status())


async def drain_cancel(request: web.Request) -> web.Response:
    return web.json_response(await request.app[NODE].cancel_drain())


async def transfer_leadership(request: web.Request) -> web.Response:
    """POST /admin/transfer-leadership[?to=NODE]: hand leadership to a caught-up voter."""
    for name in request.query:
        if name != "to":
            raise InvalidRequest(f"unknown query parameter {name!r}")
    node = request.app[NODE]
    try:
        target = node.transfer_leadership(request.query.get("to") or None)
    except NotLeaderError as error:
        raise Conflict(f"this node is not the leader (leader: {error.leader or 'unknown'})",
                       leader=error.leader) from error  # fmt: skip
    return web.json_response({"from": node.id, "to": target}, status=202)
