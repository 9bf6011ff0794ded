"""A tiny in-memory world for plan tests: the StatefulSet controller and the nodes, emulated.

`World.step()` runs one pass (observe -> plan) and then applies the plan the way the API server,
the StatefulSet controller and the photon nodes would, deterministically, one tick per pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from photon_common import contract
from photon_operator.model.observed import NodeStatus, Observed, Pod, Sample, StatefulSet
from photon_operator.model.spec import parse_cluster
from photon_operator.reconcile import actions
from photon_operator.reconcile.plan import plan
from photon_operator.resources import meta

REPO = "photondb/node"


def body(name: str = "db", generation: int = 1, **spec: Any) -> dict[str, Any]:
    spec.setdefault("version", contract.VERSION)
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": "u-1", "generation": generation},
        "spec": spec,
    }


@dataclass
class SimPod:
    role: str
    ordinal: int
    revision: str
    version: str
    ready: bool = False
    draining: bool = False
    drained: bool = False
    crash: bool = False


@dataclass
class World:
    body: dict[str, Any]
    now: float = 1_000_000.0
    status: dict[str, Any] = field(default_factory=dict)
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[str, SimPod] = field(default_factory=dict)
    voters: list[str] = field(default_factory=list)
    learners: list[str] = field(default_factory=list)
    leader: str | None = None
    refuse_drain: str | None = None  # a 409 message every drain gets
    metrics: dict[str, float] = field(default_factory=dict)  # metric -> value on every pod
    broken_version: str | None = None  # pods on this version crash-loop
    history: list[actions.Plan] = field(default_factory=list)
    calls: list[actions.NodeCall] = field(default_factory=list)
    secret: bool = False

    # -- the user -----------------------------------------------------------------------------
    def edit(self, **spec: Any) -> None:
        self.body = copy.deepcopy(self.body)
        self.body["spec"].update(spec)
        self.body["metadata"]["generation"] += 1

    def set_role(self, role: str, **fields: Any) -> None:
        spec = copy.deepcopy(self.body["spec"].get(role) or {})
        spec.update(fields)
        self.edit(**{role: spec})

    # -- observe ------------------------------------------------------------------------------
    def observed(self) -> Observed:
        cluster = parse_cluster({**self.body, "status": self.status}, default_repository=REPO)
        sets = {
            role: StatefulSet(
                role=role,
                replicas=s["replicas"],
                partition=s["partition"],
                current_revision=s["current"],
                update_revision=s["hash"],
                template_hash=s["hash"],
                version=s["version"],
                image=s["image"],
                bootstrap=s["bootstrap"],
            )
            for role, s in self.sets.items()
        }
        pods = tuple(self._pod(name, p) for name, p in sorted(self.pods.items()))
        samples = {
            name: tuple(Sample(k, {}, v) for k, v in self.metrics.items())
            for name, p in self.pods.items()
            if p.ready
        }
        return Observed(
            cluster=cluster,
            now=self.now,
            status=copy.deepcopy(self.status),
            sets=sets,
            pods=pods,
            secret_exists=self.secret,
            metrics=samples,
        )

    def _pod(self, name: str, p: SimPod) -> Pod:
        node = None
        if p.ready or p.draining or p.drained:
            node = NodeStatus(
                id=name,
                version=p.version,
                protocol=contract.PROTOCOL_VERSION,
                min_protocol=contract.MIN_PROTOCOL_VERSION,
                effective_protocol=contract.PROTOCOL_VERSION,
                state=contract.STATE_DRAINED if p.drained else contract.STATE_READY,
                ready=p.ready,
                draining=p.draining or p.drained,
                leader=self.leader,
                raft_role="leader" if name == self.leader else "follower",
                voters=tuple(self.voters),
                learners=tuple(self.learners),
                members=tuple(sorted(n for n, q in self.pods.items() if not q.drained)),
            )
        return Pod(
            name=name,
            role=p.role,
            ordinal=p.ordinal,
            ready=p.ready,
            revision=p.revision,
            restarts=5 if p.crash else 0,
            waiting_reason="CrashLoopBackOff" if p.crash else None,
            ip=f"10.0.0.{p.ordinal}",
            node=node,
        )

    # -- one pass plus the world's reaction ---------------------------------------------------
    def step(self, seconds: float = 5.0) -> actions.Plan:
        result = plan(self.observed(), secret_value="s" * 32)
        self.history.append(result)
        self.status = result.status
        self.secret = True
        for call in result.calls:
            self._call(call)
        for obj in result.apply:
            if obj["kind"] == "StatefulSet":
                self._apply_set(obj)
        self._tick()
        self.now += seconds
        return result

    def run(self, passes: int, **kwargs: Any) -> list[actions.Plan]:
        return [self.step(**kwargs) for _ in range(passes)]

    def _call(self, call: actions.NodeCall) -> None:
        self.calls.append(call)
        pod = self.pods.get(call.pod)
        if call.kind == actions.DRAIN and pod and not self.refuse_drain:
            pod.draining = True
        elif call.kind == actions.CANCEL_DRAIN and pod:
            pod.draining = pod.drained = False
            if call.pod not in self.voters + self.learners:
                self.learners.append(call.pod)
        elif call.kind == actions.TRANSFER and call.to:
            self.leader = call.to

    def _apply_set(self, obj: dict[str, Any]) -> None:
        role = obj["metadata"]["labels"][contract.LABEL_ROLE]
        spec = obj["spec"]
        env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
        old = self.sets.get(role, {})
        self.sets[role] = {
            "replicas": spec["replicas"],
            "partition": spec["updateStrategy"]["rollingUpdate"]["partition"],
            "hash": obj["metadata"]["annotations"][meta.ANN_TEMPLATE_HASH],
            "current": old.get("current") or obj["metadata"]["annotations"][meta.ANN_TEMPLATE_HASH],
            "version": obj["metadata"]["annotations"][meta.ANN_VERSION],
            "image": spec["template"]["spec"]["containers"][0]["image"],
            "bootstrap": env.get(meta.BOOTSTRAP_ENV),
        }

    def _tick(self) -> None:
        """StatefulSet controller and nodes: drains finish, pods appear, update and get ready."""
        for name, pod in list(self.pods.items()):
            if pod.draining and not pod.drained:
                pod.drained, pod.ready = True, False
                for group in (self.voters, self.learners):
                    if name in group:
                        group.remove(name)
                if self.leader == name:
                    self.leader = self.voters[0] if self.voters else None
        for role, s in self.sets.items():
            for name in [n for n, p in self.pods.items() if p.role == role]:
                if self.pods[name].ordinal >= s["replicas"]:
                    del self.pods[name]
            for ordinal in range(s["replicas"]):
                name = f"{self.body['metadata']['name']}-{role}-{ordinal}"
                pod = self.pods.get(name)
                revision = s["hash"] if ordinal >= s["partition"] else s["current"]
                if pod is None or (ordinal >= s["partition"] and pod.revision != s["hash"]):
                    crash = self.broken_version == s["version"] and revision == s["hash"]
                    self.pods[name] = SimPod(role, ordinal, revision, s["version"], crash=crash)
                    continue
                if not pod.ready and not pod.crash and not pod.drained:
                    pod.ready = True
                    self._join(name, pod)
            if all(p.revision == s["hash"] for p in self.pods.values() if p.role == role):
                s["current"] = s["hash"]

    def _join(self, name: str, pod: SimPod) -> None:
        if pod.role != contract.ROLE_DATA or name in self.voters + self.learners:
            return
        if len(self.voters) < 3 or not self.voters:
            self.voters.append(name)
        else:
            self.learners.append(name)
        self.leader = self.leader or name

    # -- helpers for assertions ---------------------------------------------------------------
    def ready(self, role: str = contract.ROLE_DATA) -> list[str]:
        return sorted(n for n, p in self.pods.items() if p.role == role and p.ready)

    def operation(self) -> dict[str, Any] | None:
        return self.status.get("operation")

    def condition(self, kind: str) -> dict[str, Any]:
        return next(c for c in self.status["conditions"] if c["type"] == kind)

    def reasons(self) -> list[str]:
        return [e.reason for p in self.history for e in p.events]

    def settle(self, limit: int = 40) -> None:
        """Run passes until no operation runs and every pod is ready."""
        for _ in range(limit):
            self.step()
            if not self.operation() and self.status.get("phase") == "Running":
                return
        raise AssertionError(f"did not settle: {self.status.get('message')}")
