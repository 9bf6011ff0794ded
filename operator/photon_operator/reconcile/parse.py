"""Kubernetes objects (as returned by the API server) -> the observed model. Pure."""

from __future__ import annotations

from typing import Any

from photon_common import contract

from ..model.observed import Pod, StatefulSet
from ..resources import meta


def statefulset(role: str, obj: dict[str, Any]) -> StatefulSet:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    env = {e.get("name"): e.get("value") for e in containers[0].get("env") or ()}
    rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
    return StatefulSet(
        role=role,
        replicas=int(spec.get("replicas", 0)),
        partition=int(rolling.get("partition", 0)),
        current_revision=status.get("currentRevision", ""),
        update_revision=status.get("updateRevision", ""),
        template_hash=annotations.get(meta.ANN_TEMPLATE_HASH, ""),
        version=annotations.get(meta.ANN_VERSION, ""),
        image=containers[0].get("image", ""),
        bootstrap=env.get(meta.BOOTSTRAP_ENV),
        settled=int(status.get("observedGeneration", 0)) >= int(metadata.get("generation", 0)),
    )


def pod(obj: dict[str, Any]) -> Pod | None:
    metadata, status = obj.get("metadata") or {}, obj.get("status") or {}
    labels = metadata.get("labels") or {}
    role = labels.get(contract.LABEL_ROLE)
    name = metadata.get("name", "")
    head, _, tail = name.rpartition("-")
    if role not in contract.ROLES or not tail.isdigit() or not head:
        return None
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    containers = status.get("containerStatuses") or [{}]
    waiting = (containers[0].get("state") or {}).get("waiting") or {}
    return Pod(
        name=name,
        role=role,
        ordinal=int(tail),
        ready=ready,
        revision=labels.get("controller-revision-hash", ""),
        deleting=bool(metadata.get("deletionTimestamp")),
        restarts=int(containers[0].get("restartCount", 0)),
        waiting_reason=waiting.get("reason"),
        ip=status.get("podIP"),
    )
