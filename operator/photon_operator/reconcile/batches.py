"""Choosing the next rollout batch: quorum check, leader hand-off, skipping updated pods.

The batch is the next `batch` ordinals below the partition. A data batch is capped at the Raft
fault tolerance and waits until the ready voters outside it form a majority. If the leader is in
it, leadership first moves to the pod restarted last (the lowest ordinal still old), or, for the
last batch, to an updated pod; after TRANSFER_WAIT the batch proceeds anyway (with a warning).
"""

from __future__ import annotations

import dataclasses

from photon_common import contract

from ..model.observed import Observed
from ..model.operation import PENDING, TRANSFERRING, UPDATING, Rollout, epoch, iso
from ..resources import meta
from .actions import TRANSFER, NodeCall
from .decision import Decision

TRANSFER_WAIT = 30.0


def next_batch(o: Observed, d: Decision, op: Rollout) -> Rollout | None:
    """Pick the next batch, moving leadership away first; None when the role is done."""
    role, sts = op.role, o.sets[op.role]
    pods = o.pods_of(role)
    if op.partition <= 0:
        return None
    tolerance = max(1, (len(o.voters) - 1) // 2) if role == contract.ROLE_DATA else op.partition
    batch = min(o.cluster.upgrade.max_unavailable, tolerance, op.partition)
    names = [meta.pod_name(o.cluster, role, i) for i in range(op.partition - batch, op.partition)]
    if role == contract.ROLE_DATA and not quorum_without(o, names):
        waiting = [p.name for p in pods if not p.ready and p.name not in names]
        d.message = (
            f"waiting for {', '.join(waiting) or 'a leader'}: restarting {', '.join(names)} "
            "now would leave no ready majority of voters"
        )
        return op
    done = {p.name for p in pods if p.revision == sts.update_revision and p.ready}
    if d.current(o, role) and done.issuperset(names):  # nothing to restart: move on
        return dataclasses.replace(op, partition=op.partition - batch, step=PENDING, pods=())
    leader = o.leader
    if role == contract.ROLE_DATA and leader in names and len(o.voters) > 1:
        if op.step != TRANSFERRING or o.now - epoch(op.step_started) < TRANSFER_WAIT:
            if op.step != TRANSFERRING:
                rest = [p for p in pods if p.name not in names and p.ready]
                older = [p for p in rest if p.ordinal < op.partition - batch]
                newer = [p for p in rest if p.revision == sts.update_revision]
                target = (older or newer or [None])[0]
                d.calls.append(NodeCall(TRANSFER, leader, target.name if target else None))
                d.message = f"moving leadership from {leader} before restarting it"
                return dataclasses.replace(
                    op, step=TRANSFERRING, step_started=iso(o.now), pods=tuple(names)
                )
            d.message = f"waiting for leadership to leave {leader}"
            return op
        d.event("LeaderNotMoved", f"{leader} kept leadership; restarting it anyway", warning=True)
    d.event("RolloutStep", f"restarting {', '.join(names)} with {op.to_version}")
    return dataclasses.replace(
        op,
        partition=op.partition - batch,
        step=UPDATING,
        step_started=iso(o.now),
        pods=tuple(names),
        gate_since={},
        baseline={},
    )


def quorum_without(o: Observed, names: list[str]) -> bool:
    """The voters outside the batch, ready, still form a majority."""
    voters = set(o.voters)
    up = sum(1 for p in o.pods if p.ready and p.name in voters and p.name not in names)
    return bool(voters) and up >= len(voters) // 2 + 1
