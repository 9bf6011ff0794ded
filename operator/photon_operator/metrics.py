"""The operator's own Prometheus metrics, in one explicit registry (served on its own port).

photon_operator_reconcile_total{result}          passes by outcome (ok, requeue, error)
photon_operator_reconcile_duration_seconds        time of one observe -> plan -> act pass
photon_operator_handler_total{handler,result}     kopf handler invocations
photon_operator_operation{namespace,cluster,type} 1 while an operation runs
photon_operator_rollout_partition{namespace,cluster,role}  the partition the operator holds
photon_operator_scale_in_remaining{namespace,cluster,role}  nodes still to drain and remove
photon_operator_events_total{reason}             events emitted, by reason
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_CLUSTER = ("namespace", "cluster")

RECONCILE = Counter(
    "photon_operator_reconcile", "Reconcile passes by outcome.", ["result"], registry=REGISTRY
)
RECONCILE_SECONDS = Histogram(
    "photon_operator_reconcile_duration_seconds", "One reconcile pass.", registry=REGISTRY
)
HANDLER = Counter(
    "photon_operator_handler", "kopf handler calls.", ["handler", "result"], registry=REGISTRY
)
OPERATION = Gauge(
    "photon_operator_operation", "1 while an operation runs.", [*_CLUSTER, "type"],
    registry=REGISTRY,
)  # fmt: skip
ROLLOUT_PARTITION = Gauge(
    "photon_operator_rollout_partition", "Partition held during a rollout.", [*_CLUSTER, "role"],
    registry=REGISTRY,
)  # fmt: skip
SCALE_IN_REMAINING = Gauge(
    "photon_operator_scale_in_remaining", "Nodes still to drain.", [*_CLUSTER, "role"],
    registry=REGISTRY,
)  # fmt: skip
EVENTS = Counter("photon_operator_events", "Events emitted.", ["reason"], registry=REGISTRY)
