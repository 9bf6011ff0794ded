"""act(): carry a Plan out through the two wrappers, in a fixed order.

Secret (create-only) -> owned objects (server-side apply) -> deletions -> node calls -> events
-> status (a minimal merge patch, skipped when nothing changed). Node refusals (409) are returned
so the caller can record them in status; every other failure raises and the pass is retried.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from photon_common import contract

from .. import metrics
from ..k8s.client import Api
from ..model.observed import Observed
from ..model.operation import iso
from ..nodeapi.client import NodeApi, NodeError
from .actions import CANCEL_DRAIN, DRAIN, TRANSFER, Event, Plan

logger = logging.getLogger(__name__)


def merge_patch(old: Any, new: Any) -> Any:
    """RFC 7386 patch turning `old` into `new`; None when they are equal."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
            continue
        sub = merge_patch(old[key], value)
        if sub is not None or (value is None and old[key] is not None):
            patch[key] = sub
    return patch or None


def event_object(o: Observed, event: Event, now: float) -> dict[str, Any]:
    c = o.cluster
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{c.name}.", "namespace": c.namespace},
        "involvedObject": {
            "apiVersion": f"{contract.API_GROUP}/{contract.API_VERSION}",
            "kind": contract.KIND_CLUSTER,
            "name": c.name,
            "namespace": c.namespace,
            "uid": c.uid,
        },
        "reason": event.reason,
        "message": event.message[:1000],
        "type": "Warning" if event.warning else "Normal",
        "source": {"component": "photon-operator"},
        "reportingComponent": "photon-operator",
        "reportingInstance": socket.gethostname(),
        "firstTimestamp": iso(now),
        "lastTimestamp": iso(now),
        "count": 1,
    }


async def _call(nodes: NodeApi, o: Observed, kind: str, pod_name: str, to: str | None) -> Any:
    pod = o.pod(pod_name)
    ip, ns = pod.ip if pod else None, o.cluster.namespace
    if kind == DRAIN:
        return await nodes.drain(ns, pod_name, ip)
    if kind == CANCEL_DRAIN:
        return await nodes.cancel_drain(ns, pod_name, ip)
    assert kind == TRANSFER
    return await nodes.transfer_leadership(ns, pod_name, ip, to)


async def act(api: Api, nodes: NodeApi, o: Observed, plan: Plan) -> dict[str, str]:
    """Apply the plan; returns {pod: message} for node calls the node refused (409)."""
    ns = o.cluster.namespace
    for obj in plan.create:
        if await api.create(obj):
            logger.info("created %s/%s", obj["kind"], obj["metadata"]["name"])
    for obj in plan.apply:
        await api.apply(obj)
    for kind, name in plan.delete:
        await api.delete(kind, ns, name)
    refused: dict[str, str] = {}
    for call in plan.calls:
        try:
            await _call(nodes, o, call.kind, call.pod, call.to)
        except NodeError as error:
            if error.status != 409:
                logger.warning("%s on %s failed: %s", call.kind, call.pod, error)
                continue
            refused[call.pod] = str(error)
    for event in plan.events:
        metrics.EVENTS.labels(event.reason).inc()
        logger.info("event %s: %s", event.reason, event.message)
        await api.create(event_object(o, event, o.now))
    status = dict(plan.status)
    operation = status.get("operation")
    if operation and operation.get("victim") in refused:
        status["operation"] = {**operation, "refusal": refused[operation["victim"]]}
    patch = merge_patch(dict(o.status), status)
    if patch is not None:
        await api.patch_status(contract.KIND_CLUSTER, ns, o.cluster.name, {"status": patch})
    return refused
