"""Operational endpoints: health probes, Prometheus metrics, cluster status and drain."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from photon_node.api.kv import NODE
from photon_node.cluster.node import Check


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
    node = request.app[NODE]
    await node.set_draining(True)
    return web.json_response(node.drain_status(), status=202)


async def drain_get(request: web.Request) -> web.Response:
    return web.json_response(request.app[NODE].drain_status())


async def drain_cancel(request: web.Request) -> web.Response:
    node = request.app[NODE]
    await node.set_draining(False)
    return web.json_response(node.drain_status())
