"""plan(observed) -> Plan: the pure heart of the operator.

Phases, each returning early when it decided the pass: (1) the release to render (spec, unless
refused for skew or rolled back for this generation); (2) continue the running operation, or
(3) start the one the cluster needs: a rollout when a pod template differs, else a scale-out or
scale-in; (4) the desired objects with the decided replicas, partitions and releases; (5) status.
"""

from __future__ import annotations

from typing import Any

from photon_common import contract

from ..model import versions
from ..model.observed import Observed
from ..model.operation import ROLLOUT, SCALE_IN, SCALE_OUT, load
from ..resources import config, policy, services
from ..resources import statefulset as sts_builder
from ..resources.statefulset import Release
from . import rollout, scaling, status
from .actions import Plan
from .decision import ROLL_ORDER, Decision

SCALE_ORDER = (contract.ROLE_DATA, contract.ROLE_COORDINATOR, contract.ROLE_OBSERVER)


def _bootstrap(o: Observed) -> str:
    data = o.sets.get(contract.ROLE_DATA)
    if data and data.bootstrap:
        return data.bootstrap
    max_voters = int(o.cluster.config.get("max_voters", contract.DEFAULT_MAX_VOTERS))
    replicas = o.cluster.role(contract.ROLE_DATA).replicas
    return sts_builder.bootstrap_members(o.cluster, replicas, max_voters)


def _current(o: Observed) -> Release:
    for role in SCALE_ORDER:
        found = o.sets.get(role)
        if found and found.version:
            return Release(found.version, found.image)
    return Release(o.cluster.version, o.cluster.image)


def _target(o: Observed, d: Decision, current: Release) -> Release:
    c = o.cluster
    wanted = Release(c.version, c.image)
    if d.blocked and d.blocked.get("generation") == c.generation:
        return current
    d.blocked = None
    if wanted.version != current.version and o.sets:
        problem = versions.skew_problem(current.version, wanted.version, o.effective_protocol)
        if problem:
            d.blocked = {"generation": c.generation, "reason": "VersionSkew", "message": problem}
            d.event("VersionSkewRefused", problem, warning=True)
            return current
    return wanted


def _template_hash(o: Observed, role: str, release: Release, bootstrap: str) -> str:
    boot = bootstrap if role == contract.ROLE_DATA else None
    return sts_builder.template_hash(o.cluster, role, release, boot)


def decide(o: Observed) -> Decision:
    c = o.cluster
    current = _current(o)
    d = Decision(
        releases={r: current for r in contract.ROLES},
        replicas={r: (o.sets[r].replicas if r in o.sets else c.role(r).replicas) for r in c.roles},
        partitions=dict.fromkeys(contract.ROLES, 0),
        operation=load(o.status.get("operation")),
        blocked=dict(o.status.get("blocked") or {}) or None,
    )
    boot = _bootstrap(o)
    d.hash_of = lambda role, release: _template_hash(o, role, release, boot)
    target = _target(o, d, current)
    if not o.sets:  # creation: everything at once, pods start in parallel
        d.releases = dict.fromkeys(contract.ROLES, target)
        d.message = "creating the cluster"
        return d
    for role in contract.ROLES:  # a role that has no StatefulSet yet gets one at once
        if role not in o.sets:
            d.releases[role] = target
    if d.blocked:
        reason = d.blocked["reason"]
        d.condition("Degraded", True, reason, d.blocked["message"])
        d.condition("Upgrading", False, reason, d.blocked["message"])
    kind = d.operation.TYPE if d.operation else None
    if kind == ROLLOUT:
        rollout.step(o, d)
        return d
    if kind == SCALE_OUT:
        scaling.step_out(o, d)
        return d
    if kind == SCALE_IN:
        scaling.step_in(o, d)
        return d
    stale = [
        r
        for r in ROLL_ORDER
        if r in o.sets and o.sets[r].template_hash != _template_hash(o, r, target, boot)
    ]
    if stale:
        for role in stale:
            d.releases[role] = target
        rolling = [r for r in stale if o.sets[r].replicas > 0]
        if rolling:
            rollout.start(o, d, target, current, rolling)
            rollout.step(o, d)
        return d
    for role in SCALE_ORDER:
        if role in o.sets and scaling.start(o, d, role):
            (scaling.step_out if d.operation.TYPE == SCALE_OUT else scaling.step_in)(o, d)
            return d
    return d


def objects(o: Observed, d: Decision) -> list[dict[str, Any]]:
    c = o.cluster
    out = [config.config_map(c), services.peer_service(c), services.client_service(c)]
    boot = _bootstrap(o)
    for role in contract.ROLES:
        out.append(
            sts_builder.statefulset(
                c,
                role,
                release=d.releases[role],
                replicas=d.replicas[role],
                partition=d.partitions[role],
                bootstrap=boot if role == contract.ROLE_DATA else None,
            )
        )
        budget = policy.pdb(c, role, d.replicas[role])
        if budget:
            out.append(budget)
    if c.pod_monitor and o.pod_monitor_api:
        out.append(policy.pod_monitor(c))
    return out


def plan(o: Observed, *, secret_value: str, resync: float = 30.0, active: float = 5.0) -> Plan:
    d = decide(o)
    c = o.cluster
    apply = objects(o, d)
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in apply}
    delete = tuple(sorted(o.owned - names))
    new_status = status.build(o, d)
    before, after = o.status.get("phase"), new_status["phase"]
    if before != after:
        d.event(
            "PhaseChanged",
            f"{before or 'New'} -> {after}: {d.message}",
            warning=after == "Degraded",
        )
    ready = new_status["conditions"][0]["status"] == "True"
    busy = d.active or not ready
    return Plan(
        apply=tuple(apply),
        create=() if o.secret_exists else (config.secret(c, secret_value),),
        delete=delete,
        calls=tuple(d.calls),
        events=tuple(d.events),
        status=new_status,
        requeue=active if busy else resync,
        message=d.message or new_status["conditions"][0]["message"],
    )
