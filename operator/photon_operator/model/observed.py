"""The immutable snapshot one reconcile pass decides against (Patroni's `Cluster`, CNPG's
instance status): the StatefulSets, the pods and what each node says about itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from photon_common import contract

from .spec import Cluster


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class NodeStatus:
    """A node's own `GET /cluster/status` answer."""

    id: str
    version: str = ""
    protocol: int = 0
    min_protocol: int = 0
    effective_protocol: int | None = None
    state: str = contract.STATE_STARTING
    ready: bool = False
    draining: bool = False
    leader: str | None = None
    raft_role: str = ""
    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeStatus:
        raft = data.get("raft") or {}
        return cls(
            id=str(data.get("id", "")),
            version=str(data.get("version", "")),
            protocol=int(data.get("protocol_version") or 0),
            min_protocol=int(data.get("min_protocol_version") or 0),
            effective_protocol=data.get("effective_protocol_version"),
            state=str(data.get("state", contract.STATE_STARTING)),
            ready=bool(data.get("ready", False)),
            draining=bool(data.get("draining", False)),
            leader=data.get("leader") or raft.get("leader"),
            raft_role=str(raft.get("role", "")),
            voters=tuple(raft.get("voters") or ()),
            learners=tuple(raft.get("learners") or ()),
            members=tuple(sorted(data.get("members") or ())),
        )

    @property
    def drained(self) -> bool:
        return self.state == contract.STATE_DRAINED


@dataclass(frozen=True)
class Pod:
    name: str
    role: str
    ordinal: int
    ready: bool = False
    revision: str = ""
    deleting: bool = False
    restarts: int = 0
    waiting_reason: str | None = None
    ip: str | None = None
    node: NodeStatus | None = None

    @property
    def crash_looping(self) -> bool:
        return self.waiting_reason == "CrashLoopBackOff"


@dataclass(frozen=True)
class StatefulSet:
    role: str
    replicas: int
    partition: int = 0
    current_revision: str = ""
    update_revision: str = ""
    template_hash: str = ""
    version: str = ""
    image: str = ""
    bootstrap: str | None = None
    settled: bool = True  # the controller has seen the latest spec (observedGeneration)


@dataclass(frozen=True)
class Observed:
    cluster: Cluster
    now: float
    status: Mapping[str, Any] = field(default_factory=dict)
    sets: Mapping[str, StatefulSet] = field(default_factory=dict)
    pods: tuple[Pod, ...] = ()
    secret_exists: bool = False
    pod_monitor_api: bool = False
    owned: frozenset[tuple[str, str]] = frozenset()  # (kind, name) of optional objects present
    metrics: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)

    def pods_of(self, role: str) -> list[Pod]:
        return sorted((p for p in self.pods if p.role == role), key=lambda p: p.ordinal)

    def pod(self, name: str) -> Pod | None:
        return next((p for p in self.pods if p.name == name), None)

    @property
    def nodes(self) -> list[NodeStatus]:
        return [p.node for p in self.pods if p.node is not None]

    @property
    def leader(self) -> str | None:
        """The leader most nodes agree on (a leader's own word wins)."""
        for node in self.nodes:
            if node.raft_role == "leader":
                return node.id
        votes = Counter(n.leader for n in self.nodes if n.leader)
        return votes.most_common(1)[0][0] if votes else None

    @property
    def leader_status(self) -> NodeStatus | None:
        leader = self.leader
        return next((n for n in self.nodes if n.id == leader), None)

    @property
    def voters(self) -> tuple[str, ...]:
        status = self.leader_status
        return status.voters if status else ()

    def is_member(self, node_id: str) -> bool:
        status = self.leader_status
        return status is not None and (node_id in status.voters or node_id in status.learners)

    def knows(self, node_id: str) -> bool:
        """The node is a gossip member as the leader sees it (any role)."""
        status = self.leader_status
        return status is not None and (node_id in status.members or self.is_member(node_id))

    @property
    def effective_protocol(self) -> int | None:
        values = [n.effective_protocol for n in self.nodes if n.effective_protocol is not None]
        return min(values) if values else None
