"""observe(): read the PhotonCluster's world into one Observed snapshot. Read-only.

Nodes are asked concurrently; a node that does not answer is simply absent (pod.node is None),
which the plan treats as "not confirmed" and never as "drained".
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from photon_common import contract

from ..k8s.client import Api
from ..model.observed import NodeStatus, Observed, Pod
from ..model.operation import ROLLOUT
from ..model.spec import parse_cluster
from ..nodeapi.client import NodeApi, NodeError
from ..resources import meta
from . import parse

logger = logging.getLogger(__name__)


async def _node(nodes: NodeApi, namespace: str, pod: Pod) -> Pod:
    if not pod.ip or pod.deleting:
        return pod
    try:
        answer = await nodes.status(namespace, pod.name, pod.ip)
    except NodeError as error:
        logger.debug("no status from %s: %s", pod.name, error)
        return pod
    return dataclasses.replace(pod, node=NodeStatus.from_json(answer))


async def _metrics(nodes: NodeApi, namespace: str, pods: list[Pod]) -> dict[str, Any]:
    async def one(pod: Pod) -> tuple[str, Any]:
        try:
            return pod.name, await nodes.metrics(namespace, pod.name, pod.ip)
        except NodeError:
            return pod.name, ()

    return dict(await asyncio.gather(*(one(p) for p in pods if p.ip and p.ready)))


async def observe(
    api: Api, nodes: NodeApi, body: dict[str, Any], *, default_repository: str, now: float
) -> Observed:
    cluster = parse_cluster(body, default_repository=default_repository)
    ns, status = cluster.namespace, body.get("status") or {}
    sets = {}
    for role in contract.ROLES:
        found = await api.get("StatefulSet", ns, meta.set_name(cluster, role))
        if found:
            sets[role] = parse.statefulset(role, found)
    raw_pods = await api.list("Pod", ns, meta.selector_text(cluster))
    pods = [p for p in map(parse.pod, raw_pods) if p is not None]
    pods = list(await asyncio.gather(*(_node(nodes, ns, p) for p in pods)))
    monitor_api = await api.has_api("monitoring.coreos.com/v1", "podmonitors")
    owned = set()
    for item in await api.list("PodDisruptionBudget", ns, meta.selector_text(cluster)):
        owned.add(("PodDisruptionBudget", item["metadata"]["name"]))
    if monitor_api and await api.get("PodMonitor", ns, cluster.name):
        owned.add(("PodMonitor", cluster.name))
    operation = status.get("operation") or {}
    metrics = {}
    if operation.get("type") == ROLLOUT and cluster.upgrade.gates:
        metrics = await _metrics(nodes, ns, pods)
    return Observed(
        cluster=cluster,
        now=now,
        status=status,
        sets=sets,
        pods=tuple(pods),
        secret_exists=await api.get("Secret", ns, meta.secret_name(cluster)) is not None,
        pod_monitor_api=monitor_api,
        owned=frozenset(owned),
        metrics=metrics,
    )
