"""PodDisruptionBudgets (one per role) and the optional PodMonitor."""

from __future__ import annotations

from typing import Any

from photon_common import contract

from ..model.spec import Cluster
from . import meta


def pdb(c: Cluster, role: str, replicas: int) -> dict[str, Any] | None:
    """At most one voluntary disruption per role; none for a role too small to lose a pod
    (a PDB that can never be satisfied would block node drains forever)."""
    minimum = 3 if role == contract.ROLE_DATA else 2
    if replicas < minimum:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta.metadata(c, meta.set_name(c, role), role),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": meta.selector(c, role)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def pod_monitor(c: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            **meta.metadata(c, c.name),
            "labels": {**meta.labels(c), **c.pod_monitor_labels},
        },
        "spec": {
            "selector": {"matchLabels": meta.selector(c)},
            "podMetricsEndpoints": [
                {
                    "port": "client",
                    "path": contract.METRICS_PATH,
                    "interval": c.pod_monitor_interval,
                }
            ],
        },
    }
