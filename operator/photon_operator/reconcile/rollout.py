"""The rolling-upgrade state machine: one role at a time, one batch at a time.

Invariants: at most `batch` pods of a role restart at once (data: never more than the Raft fault
tolerance); a data batch starts only when the ready voters outside it still form a majority; the
leader is never restarted while it leads (leadership first moves to the pod restarted last); the
next batch starts only after the previous one is updated, ready, a member again and every gate
has held.
"""

from __future__ import annotations

import dataclasses

from ..model.observed import Observed
from ..model.operation import GATING, PAUSED, PENDING, UPDATING, Rollout, epoch, iso
from ..model.spec import ROLLBACK
from ..resources.statefulset import Release
from . import batches, gates
from .decision import ROLL_ORDER, Decision, settled


def start(o: Observed, d: Decision, target: Release, source: Release, roles: list[str]) -> None:
    """Begin a rollout towards `target` over `roles` (in ROLL_ORDER), nothing restarted yet."""
    first = roles[0]
    d.operation = Rollout(
        from_version=source.version,
        to_version=target.version,
        from_image=source.image,
        to_image=target.image,
        roles=tuple(roles),
        partition=o.sets[first].replicas,
        step=PENDING,
        step_started=iso(o.now),
        started=iso(o.now),
    )
    d.event("RolloutStarted", f"rolling {', '.join(roles)} to {target.version} ({target.image})")


def _render(o: Observed, d: Decision, op: Rollout) -> None:
    target = Release(op.to_version, op.to_image)
    for role in ROLL_ORDER:
        if role not in o.sets:
            continue
        d.releases[role] = target
        if role == op.role:
            d.partitions[role] = op.partition
        elif role in op.roles:
            d.partitions[role] = o.sets[role].replicas


def _fail(o: Observed, d: Decision, op: Rollout, reason: str, message: str) -> None:
    changed = (op.from_version, op.from_image) != (op.to_version, op.to_image)
    d.condition("Degraded", True, reason, message)
    d.message = f"rollout to {op.to_version} failed: {message}"
    if o.cluster.upgrade.on_gate_failure == ROLLBACK and changed and not op.rollback:
        done = [r for r in reversed(ROLL_ORDER) if r in o.sets and r not in op.roles]
        roles = [op.role, *(r for r in done if o.sets[r].replicas > 0)]
        d.operation = Rollout(
            from_version=op.to_version,
            to_version=op.from_version,
            from_image=op.to_image,
            to_image=op.from_image,
            roles=tuple(roles),
            partition=o.sets[op.role].replicas,
            step=PENDING,
            step_started=iso(o.now),
            started=iso(o.now),
            rollback=True,
            reason=message,
        )
        d.event("RollbackStarted", f"{message}; rolling back to {op.from_version}", warning=True)
        _render(o, d, d.operation)
        return
    d.operation = dataclasses.replace(
        op, step=PAUSED, paused_generation=o.cluster.generation, failure=reason, reason=message
    )
    d.condition("Upgrading", True, "Failed", message)
    d.event("RolloutPaused", f"{message}; change the spec to resume", warning=True)


def step(o: Observed, d: Decision) -> None:
    op = d.operation
    assert isinstance(op, Rollout)
    _render(o, d, op)
    up = o.cluster.upgrade
    d.active = True
    verb = "rolling back" if op.rollback else "rolling"
    d.condition("Upgrading", True, "RollingBack" if op.rollback else "RollingOut", "")
    if up.paused:
        d.condition("Upgrading", True, "Paused", "spec.upgrade.paused is true")
        d.message = f"rollout to {op.to_version} paused by spec.upgrade.paused"
        return
    if op.step == PAUSED:
        if o.cluster.generation <= (op.paused_generation or 0):
            failure = op.failure or "GateFailed"
            d.condition("Upgrading", True, "Failed", op.reason or "")
            d.condition("Degraded", True, failure, op.reason or "")
            d.message = f"rollout paused: {op.reason}"
            return
        op = dataclasses.replace(op, step=GATING, step_started=iso(o.now), gate_since={})
        d.event("RolloutResumed", "the spec changed; evaluating the gates again")
    sts = o.sets[op.role]
    batch = [p for p in o.pods_of(op.role) if p.ordinal >= op.partition]
    if op.step in (UPDATING, GATING):
        problem = _batch_problem(o, op, batch, sts.update_revision)
        if problem:
            _fail(o, d, op, *problem)
            return
        if not d.current(o, op.role) or not all(settled(o, p, sts.update_revision) for p in batch):
            pending = [p.name for p in batch if not settled(o, p, sts.update_revision)]
            d.message = f"{verb} {op.role}: waiting for {', '.join(pending) or 'the controller'}"
            d.operation = op
            return
        if op.step == UPDATING and up.gates and not op.rollback:
            op = dataclasses.replace(op, step=GATING, step_started=iso(o.now))
        if op.step == GATING:
            state = gates.evaluate(
                up.gates,
                o.metrics,
                now=o.now,
                since={k: epoch(v) for k, v in op.gate_since.items()},
                baseline=op.baseline,
            )
            op = dataclasses.replace(
                op, gate_since={k: iso(v) for k, v in state.since.items()}, baseline=state.baseline
            )
            if not state.passed:
                if o.now - epoch(op.step_started) > up.gate_timeout_seconds and state.failing:
                    _fail(o, d, op, "GateFailed", "gate failed: " + "; ".join(state.failing))
                    return
                detail = "; ".join(state.failing) or f"for {max(g.hold_seconds for g in up.gates)}s"
                d.message = f"{verb} {op.role}: holding gates {detail}"
                d.operation = op
                return
        op = dataclasses.replace(op, step=PENDING)
    while True:
        nxt = batches.next_batch(o, d, op)
        if nxt is None:  # this role is done
            if len(op.roles) == 1:
                _complete(o, d, op)
                return
            rest = op.roles[1:]
            op = dataclasses.replace(op, roles=rest, partition=o.sets[rest[0]].replicas)
            _render(o, d, op)
        elif nxt.step == PENDING and nxt.partition < op.partition:  # skipped an updated pod
            op = nxt
        else:
            break
    d.operation = nxt
    _render(o, d, nxt)
    d.message = d.message or f"{verb} {nxt.role}: {', '.join(nxt.pods)} ({nxt.step})"


def _batch_problem(o: Observed, op: Rollout, batch: list, revision: str) -> tuple[str, str] | None:
    up = o.cluster.upgrade
    for pod in batch:
        if pod.crash_looping and pod.restarts >= 3:
            return "CrashLoop", f"{pod.name} is crash-looping on {op.to_version}"
        node, effective = pod.node, o.effective_protocol
        speaks = node is not None and node.min_protocol <= (effective or 0) <= node.protocol
        if node and node.protocol and effective and not speaks:
            return "ProtocolIncompatible", f"{pod.name} cannot speak protocol {effective}"
    late = op.step == UPDATING and o.now - epoch(op.step_started) > up.pod_timeout_seconds
    if late and not all(settled(o, p, revision) for p in batch):
        return "PodTimeout", f"{', '.join(op.pods)} not ready after {up.pod_timeout_seconds}s"
    return None


def _complete(o: Observed, d: Decision, op: Rollout) -> None:
    d.operation = None
    d.active = False
    d.partitions.update(dict.fromkeys(d.partitions, 0))
    d.condition("Upgrading", False, "RolledBack" if op.rollback else "UpToDate", "")
    if op.rollback:
        d.condition("Degraded", True, "RolledBack", op.reason or "")
        d.blocked = {
            "generation": o.cluster.generation,
            "reason": "RolledBack",
            "message": f"rolled back to {op.to_version}: {op.reason}",
        }
        d.event("RollbackCompleted", f"every node runs {op.to_version} again", warning=True)
    else:
        d.event("RolloutCompleted", f"every node runs {op.to_version}")
    d.message = f"rollout to {op.to_version} complete"
