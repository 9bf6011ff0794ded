"""Scale-out and scale-in state machines.

Scale-out raises the StatefulSet at once (pods start in parallel) and waits until every new pod is
ready and a member. Scale-in drains one node at a time, highest ordinal first, and lowers the
replica count past a node only after that node (or the leader) confirms it left the membership:
the StatefulSet never shrinks ahead of the database. Raising replicas again cancels the drain.
"""

from __future__ import annotations

import dataclasses

from photon_common import contract

from ..model.observed import Observed
from ..model.operation import ScaleIn, ScaleOut, epoch, iso
from ..resources import meta
from .actions import CANCEL_DRAIN, DRAIN, NodeCall
from .decision import Decision, settled


def start(o: Observed, d: Decision, role: str) -> bool:
    """Start the scale operation this role needs; False (with a reason) when refused or none."""
    want, have = o.cluster.role(role).replicas, o.sets[role].replicas
    if want > have:
        d.operation = ScaleOut(role=role, source=have, target=want, started=iso(o.now))
        d.event("ScaleOutStarted", f"adding {want - have} {role} node(s): {have} -> {want}")
        return True
    if want < have:
        problem = _refusal(o, role, want, have)
        if problem:
            d.condition("Scaling", False, "ScaleInRefused", problem)
            d.message = f"scale-in of {role} refused: {problem}"
            if o.status.get("message") != d.message:
                d.event("ScaleInRefused", problem, warning=True)
            return False
        d.operation = ScaleIn(role=role, source=have, target=want, started=iso(o.now))
        d.event("ScaleInStarted", f"draining {have - want} {role} node(s): {have} -> {want}")
        return True
    return False


def _refusal(o: Observed, role: str, want: int, have: int) -> str | None:
    c = o.cluster
    if role == contract.ROLE_DATA and want < 1:
        return "a cluster keeps at least one data node"
    named = [n.strip() for n in c.annotations.get(meta.ANN_SCALE_IN_VICTIMS, "").split(",")]
    top = {meta.pod_name(c, role, i) for i in range(want, have)}
    odd = [n for n in named if n and n.startswith(meta.set_name(c, role)) and n not in top]
    if odd:
        return (
            f"{', '.join(odd)} cannot be removed: a StatefulSet removes its highest ordinals "
            f"({', '.join(sorted(top))})"
        )
    victims = {meta.pod_name(c, role, i) for i in range(want, have)}
    unready = [  # the nodes that stay must be ready; a victim may be broken
        p.name for p in o.pods_of(contract.ROLE_DATA) if not p.ready and p.name not in victims
    ]
    if unready:
        return f"every data node must be ready first ({', '.join(unready)} is not)"
    if o.leader is None:
        return "the cluster has no leader"
    if role == contract.ROLE_DATA:
        staying = [v for v in o.voters if v not in victims]
        if not staying:
            return "no voter would remain"
    return None


def step_out(o: Observed, d: Decision) -> None:
    op = d.operation
    assert isinstance(op, ScaleOut)
    want = o.cluster.role(op.role).replicas
    if want > op.target:
        op = dataclasses.replace(op, target=want)
    if want < op.target:  # lowered again: stop waiting; the next pass drains what is extra
        d.operation = None
        d.event("ScaleOutSuperseded", f"replicas lowered to {want} before the scale-out ended")
        return
    d.operation, d.active = op, True
    d.replicas[op.role] = op.target
    sts = o.sets[op.role]
    new = [p for p in o.pods_of(op.role) if op.source <= p.ordinal < op.target]
    for pod in new:  # a retained volume may carry an old drain: undo it
        if pod.node and (pod.node.draining or pod.node.drained):
            d.calls.append(NodeCall(CANCEL_DRAIN, pod.name))
            d.event("StaleDrainCancelled", f"{pod.name} came back drained; cancelling the drain")
    joined = [p for p in new if settled(o, p, p.revision)]
    total = op.target - op.source
    d.condition("Scaling", True, "ScalingOut", f"{len(joined)}/{total} new {op.role} nodes joined")
    d.message = f"scaling {op.role} out to {op.target}: {len(joined)}/{total} joined"
    if len(joined) == total and sts.settled:
        d.operation, d.active = None, False
        d.event("ScaleOutCompleted", f"{op.role} has {op.target} nodes")
    elif o.now - epoch(op.started) > o.cluster.upgrade.pod_timeout_seconds:
        d.condition("Degraded", True, "ScaleOutStalled", d.message)


def step_in(o: Observed, d: Decision) -> None:
    op = d.operation
    assert isinstance(op, ScaleIn)
    c, role = o.cluster, op.role
    want = c.role(role).replicas
    current = op.source - len(op.removed)
    if want >= current:  # cancelled (or raised past what is left)
        if op.victim:
            d.calls.append(NodeCall(CANCEL_DRAIN, op.victim))
        d.operation = None
        d.event("ScaleInCancelled", f"replicas raised to {want}; {op.victim or 'no node'} kept")
        return
    if want != op.target:
        op = dataclasses.replace(op, target=want)
    d.active, d.replicas[role] = True, current
    if op.victim and int(op.victim.rsplit("-", 1)[1]) < op.target:
        d.calls.append(NodeCall(CANCEL_DRAIN, op.victim))
        d.event("DrainCancelled", f"{op.victim} stays: replicas raised to {op.target}")
        op = dataclasses.replace(op, victim=None, drain_started=None, refusal=None)
    if op.victim is None:
        victim = meta.pod_name(c, role, current - 1)
        d.calls.append(NodeCall(DRAIN, victim))
        d.event("DrainStarted", f"draining {victim} ({current} -> {op.target} {role} nodes)")
        op = dataclasses.replace(op, victim=victim, drain_started=iso(o.now))
    else:
        pod = o.pod(op.victim)
        if _confirmed(o, op.victim):
            removed = (*op.removed, op.victim)
            d.replicas[role] = op.source - len(removed)
            d.event("NodeRemoved", f"{op.victim} drained and left the cluster; shrinking {role}")
            op = dataclasses.replace(op, victim=None, drain_started=None, removed=removed)
            if d.replicas[role] <= op.target:
                d.operation, d.active = None, False
                d.event("ScaleInCompleted", f"{role} has {op.target} nodes")
                d.condition("Scaling", False, "ScaledIn", f"{role} has {op.target} nodes")
                return
        elif pod is not None and pod.node is not None and not pod.node.draining:
            d.calls.append(NodeCall(DRAIN, op.victim))  # idempotent; e.g. after a failed call
        elif pod is not None and pod.node is not None:
            op = dataclasses.replace(op, refusal=None)  # it drains now
        if o.now - epoch(op.drain_started) > c.upgrade.pod_timeout_seconds and op.victim:
            d.condition("Degraded", True, "DrainStalled", f"{op.victim} is still draining")
    d.operation = op
    left = op.source - len(op.removed) - op.target
    if op.victim is None:
        d.message = f"scaling {role} in to {op.target}: removed {op.removed[-1]}, {left} to go"
        d.condition("Scaling", True, "ScalingIn", d.message)
        return
    reason = "DrainRefused" if op.refusal else "ScalingIn"
    detail = f"; the node refuses: {op.refusal}" if op.refusal else ""
    d.message = f"scaling {role} in to {op.target}: draining {op.victim}, {left} to go{detail}"
    d.condition("Scaling", True, reason, d.message)


def _confirmed(o: Observed, victim: str) -> bool:
    """The node says it is drained, or the leader no longer has it as a member."""
    pod = o.pod(victim)
    if pod is not None and pod.node is not None and pod.node.drained:
        return True
    leader = o.leader_status
    return leader is not None and leader.id != victim and not o.knows(victim)
