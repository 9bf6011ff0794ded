"""Assembles the aiohttp application: routes, middlewares and limits."""

from __future__ import annotations

from aiohttp import web

from photon_common import contract
from photon_node.api import kv, ops
from photon_node.api.errors import MAX_BODY
from photon_node.api.forward import session_context
from photon_node.api.inflight import InFlight
from photon_node.api.middleware import make_middleware
from photon_node.cluster.node import Node


def make_app(node: Node, inflight: InFlight) -> web.Application:
    max_body = node.settings.max_value_bytes
    app = web.Application(
        client_max_size=max_body,
        middlewares=[make_middleware(inflight, node.metrics)],
    )
    app[kv.NODE] = node
    app.cleanup_ctx.append(session_context)
    app[MAX_BODY] = max_body
    key_path = contract.KV_PREFIX + "/{key:.*}"
    app.router.add_route("PUT", key_path, kv.put_key, name="kv.put")
    app.router.add_route("GET", key_path, kv.get_key, name="kv.get")
    app.router.add_route("DELETE", key_path, kv.delete_key, name="kv.delete")
    app.router.add_route("GET", contract.KV_PREFIX, kv.scan, name="kv.scan")
    app.router.add_get(contract.HEALTH_LIVE, ops.live)
    app.router.add_get(contract.HEALTH_READY, ops.ready)
    app.router.add_get(contract.HEALTH_STARTUP, ops.startup)
    app.router.add_get(contract.METRICS_PATH, ops.metrics)
    app.router.add_get(contract.CLUSTER_STATUS, ops.cluster_status)
    app.router.add_post(contract.ADMIN_DRAIN, ops.drain_start)
    app.router.add_get(contract.ADMIN_DRAIN, ops.drain_get)
    app.router.add_delete(contract.ADMIN_DRAIN, ops.drain_cancel)
    app.router.add_post(contract.ADMIN_TRANSFER_LEADERSHIP, ops.transfer_leadership)
    return app
