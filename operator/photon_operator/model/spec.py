"""PhotonCluster.spec parsed into frozen dataclasses.

The CRD schema already applies defaults and validation; parsing here is defensive (the same
defaults again) so that builders and the plan never look at raw dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from photon_common import contract

RETAIN, DELETE = "Retain", "Delete"
PAUSE, ROLLBACK = "Pause", "Rollback"
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
# Options the operator owns; the CRD refuses them in spec.config too.
RESERVED_OPTIONS = frozenset(
    {
        "node_id",
        "data_dir",
        "listen",
        "peer_listen",
        "advertise_client",
        "advertise_peer",
        "role",
        "initial_cluster",
        "join",
        "cluster_secret",
        "cluster_secret_file",
        "protocol_version",
        "min_protocol_version",
    }
)
_DEFAULT_REPLICAS = {contract.ROLE_DATA: 3, contract.ROLE_OBSERVER: 0, contract.ROLE_COORDINATOR: 0}


def _frozen(value: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Storage:
    size: str = "10Gi"
    storage_class: str | None = None


@dataclass(frozen=True)
class Role:
    name: str
    replicas: int
    resources: Mapping[str, Any] = field(default_factory=dict)
    storage: Storage = Storage()
    affinity: Mapping[str, Any] | None = None
    tolerations: tuple[Mapping[str, Any], ...] = ()
    topology_spread: tuple[Mapping[str, Any], ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    priority_class: str | None = None

    @classmethod
    def parse(cls, name: str, raw: Mapping[str, Any] | None) -> Role:
        raw = raw or {}
        sched = raw.get("scheduling") or {}
        storage = raw.get("storage") or {}
        return cls(
            name=name,
            replicas=int(raw.get("replicas", _DEFAULT_REPLICAS[name])),
            resources=_frozen(raw.get("resources")),
            storage=Storage(str(storage.get("size", "10Gi")), storage.get("storageClassName")),
            affinity=sched.get("affinity"),
            tolerations=tuple(sched.get("tolerations") or ()),
            topology_spread=tuple(sched.get("topologySpreadConstraints") or ()),
            node_selector=_frozen(sched.get("nodeSelector")),
            priority_class=sched.get("priorityClassName"),
        )


@dataclass(frozen=True)
class Gate:
    metric: str
    comparison: str
    threshold: float
    hold_seconds: int = 30
    labels: Mapping[str, str] = field(default_factory=dict)
    aggregation: str = "max"  # over pods and series: max | min | sum | avg
    function: str = "value"  # value | increase (over the hold window)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Gate:
        comparison = str(raw.get("comparison", "<="))
        if comparison not in COMPARISONS:
            raise ValueError(f"gate comparison {comparison!r} is not one of {COMPARISONS}")
        return cls(
            metric=str(raw["metric"]),
            comparison=comparison,
            threshold=float(raw.get("threshold", 0)),
            hold_seconds=int(raw.get("holdSeconds", 30)),
            labels=_frozen(raw.get("labels")),
            aggregation=str(raw.get("aggregation", "max")),
            function=str(raw.get("function", "value")),
        )

    def describe(self) -> str:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        name = f"{self.metric}{{{labels}}}" if labels else self.metric
        return f"{self.aggregation}({self.function}({name})) {self.comparison} {self.threshold:g}"


@dataclass(frozen=True)
class Upgrade:
    paused: bool = False
    max_unavailable: int = 1
    gates: tuple[Gate, ...] = ()
    on_gate_failure: str = PAUSE
    pod_timeout_seconds: int = 600
    gate_timeout_seconds: int = 600


@dataclass(frozen=True)
class Cluster:
    """One PhotonCluster: identity plus its parsed spec."""

    name: str
    namespace: str
    uid: str
    generation: int
    version: str
    image: str
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    roles: Mapping[str, Role] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    upgrade: Upgrade = Upgrade()
    pvc_when_scaled: str = RETAIN
    pvc_when_deleted: str = RETAIN
    pod_monitor: bool = False
    pod_monitor_interval: str = "30s"
    pod_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    scrape_annotations: bool = True
    termination_grace_seconds: int = 60
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def role(self, name: str) -> Role:
        return self.roles[name]


def parse_cluster(body: Mapping[str, Any], *, default_repository: str) -> Cluster:
    """Build a Cluster from a PhotonCluster object (as returned by the API server)."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    version = str(spec.get("version") or contract.VERSION)
    upgrade = spec.get("upgrade") or {}
    retention = spec.get("pvcRetention") or {}
    monitor = (spec.get("monitoring") or {}).get("podMonitor") or {}
    pod = spec.get("podTemplate") or {}
    config = dict(spec.get("config") or {})
    reserved = sorted(RESERVED_OPTIONS & {k.replace("-", "_") for k in config})
    if reserved:
        raise ValueError(f"spec.config may not set {', '.join(reserved)}: the operator owns them")
    return Cluster(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation", 0)),
        version=version,
        image=str(spec.get("image") or f"{default_repository}:{version}"),
        image_pull_policy=str(spec.get("imagePullPolicy", "IfNotPresent")),
        image_pull_secrets=tuple(s["name"] for s in spec.get("imagePullSecrets") or ()),
        roles=MappingProxyType({r: Role.parse(r, spec.get(r)) for r in contract.ROLES}),
        config=_frozen(config),
        upgrade=Upgrade(
            paused=bool(upgrade.get("paused", False)),
            max_unavailable=max(1, int(upgrade.get("maxUnavailable", 1))),
            gates=tuple(Gate.parse(g) for g in upgrade.get("gates") or ()),
            on_gate_failure=str(upgrade.get("onGateFailure", PAUSE)),
            pod_timeout_seconds=int(upgrade.get("podTimeoutSeconds", 600)),
            gate_timeout_seconds=int(upgrade.get("gateTimeoutSeconds", 600)),
        ),
        pvc_when_scaled=str(retention.get("whenScaled", RETAIN)),
        pvc_when_deleted=str(retention.get("whenDeleted", RETAIN)),
        pod_monitor=bool(monitor.get("enabled", False)),
        pod_monitor_interval=str(monitor.get("interval", "30s")),
        pod_monitor_labels=_frozen(monitor.get("labels")),
        scrape_annotations=bool((spec.get("monitoring") or {}).get("scrapeAnnotations", True)),
        termination_grace_seconds=int(spec.get("terminationGracePeriodSeconds", 60)),
        pod_labels=_frozen(pod.get("labels")),
        pod_annotations=_frozen(pod.get("annotations")),
        annotations=_frozen(meta.get("annotations")),
    )
