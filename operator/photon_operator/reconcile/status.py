"""The complete new `status` from the snapshot and the decision: phase, conditions, members.

Conditions keep their lastTransitionTime while their status does not change, so an unchanged
cluster produces an identical status and the write is skipped.
"""

from __future__ import annotations

from typing import Any

from photon_common import contract

from ..model.observed import Observed
from ..model.operation import SCALE_IN, SCALE_OUT, iso
from ..resources import meta
from .decision import Condition, Decision

TYPES = (
    contract.CONDITION_READY,
    contract.CONDITION_PROGRESSING,
    contract.CONDITION_DEGRADED,
    contract.CONDITION_UPGRADING,
    contract.CONDITION_SCALING,
)


def _members(o: Observed) -> list[dict[str, Any]]:
    out = []
    for pod in sorted(o.pods, key=lambda p: (p.role, p.ordinal)):
        node = pod.node
        out.append(
            {
                "name": pod.name,
                "role": pod.role,
                "raftRole": (node.raft_role if node else "") or "unknown",
                "version": node.version if node else "",
                "state": node.state if node else "unreachable",
                "ready": pod.ready,
                "draining": bool(node and node.draining),
            }
        )
    return out


def _defaults(o: Observed, d: Decision) -> None:
    """Fill Ready/Progressing/Degraded/Upgrading/Scaling where the machines said nothing."""
    want = {r: d.replicas.get(r, 0) for r in contract.ROLES}
    ready = sum(1 for p in o.pods if p.ready and p.ordinal < want.get(p.role, 0))
    total = sum(want.values())
    crashing = [p.name for p in o.pods if p.crash_looping]
    leader = o.leader
    if crashing:
        d.conditions.setdefault(
            "Degraded", Condition(True, "CrashLoop", f"crash-looping: {', '.join(crashing)}")
        )
    d.conditions.setdefault("Degraded", Condition(False, "AsExpected", ""))
    if ready == total and leader:
        d.conditions["Ready"] = Condition(True, "AllNodesReady", f"{ready}/{total} ready")
    else:
        why = "NoLeader" if not leader and total else "NodesNotReady"
        d.conditions["Ready"] = Condition(False, why, f"{ready}/{total} ready, leader {leader}")
    busy = d.operation is not None or ready != total
    d.message = d.message or f"{ready}/{total} nodes ready, leader {leader}"
    message = d.message if busy else ""
    d.conditions["Progressing"] = Condition(busy, "Reconciling" if busy else "Idle", message)
    d.conditions.setdefault("Upgrading", Condition(False, "UpToDate", ""))
    d.conditions.setdefault("Scaling", Condition(False, "Idle", ""))


def _phase(o: Observed, d: Decision) -> str:
    op, cond = d.operation, d.conditions
    if o.status.get("phase") in (None, "Creating") and not cond["Ready"].status:
        return "Creating"
    if cond["Upgrading"].status:
        return "Paused" if cond["Upgrading"].reason in ("Paused", "Failed") else "Upgrading"
    if op is not None and op.TYPE in (SCALE_IN, SCALE_OUT):
        return "Scaling"
    if cond["Degraded"].status or not cond["Ready"].status:
        return "Degraded"
    return "Running"


def build(o: Observed, d: Decision) -> dict[str, Any]:
    _defaults(o, d)
    previous = {c.get("type"): c for c in o.status.get("conditions") or ()}
    conditions = []
    for kind in TYPES:
        now = d.conditions[kind]
        text = "True" if now.status else "False"
        old = previous.get(kind) or {}
        changed = old.get("status") != text
        conditions.append(
            {
                "type": kind,
                "status": text,
                "reason": now.reason,
                "message": now.message,
                "observedGeneration": o.cluster.generation,
                "lastTransitionTime": iso(o.now) if changed else old["lastTransitionTime"],
            }
        )
    roles = {}
    for role in contract.ROLES:
        pods = o.pods_of(role)
        sts = o.sets.get(role)
        roles[role] = {
            "replicas": d.replicas.get(role, 0),
            "readyReplicas": sum(1 for p in pods if p.ready),
            "updatedReplicas": sum(1 for p in pods if sts and p.revision == sts.update_revision),
        }
    ready = sum(r["readyReplicas"] for r in roles.values())
    total = sum(r["replicas"] for r in roles.values())
    current = o.sets.get(contract.ROLE_DATA)
    status: dict[str, Any] = {
        "observedGeneration": o.cluster.generation,
        "phase": _phase(o, d),
        "message": d.message,
        "ready": f"{ready}/{total}",
        "replicas": roles[contract.ROLE_DATA]["replicas"],
        "selector": meta.selector_text(o.cluster, contract.ROLE_DATA),
        "currentVersion": current.version if current else None,
        "targetVersion": o.cluster.version,
        "image": d.releases[contract.ROLE_DATA].image,
        "leader": o.leader,
        "effectiveProtocol": o.effective_protocol,
        "roles": roles,
        "members": _members(o),
        "conditions": conditions,
        "operation": d.operation.to_dict() if d.operation else None,
        "blocked": d.blocked,
    }
    return {k: v for k, v in status.items() if v is not None}
