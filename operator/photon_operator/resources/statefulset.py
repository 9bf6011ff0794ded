"""One StatefulSet per role: identity from the downward API, probes on the health endpoints.

The partition and the replica count are decided by the plan and passed in; so are the release
(version and image) to render, which during a rollback is the *old* one, and the fixed list of
bootstrap voters (data role only), which never changes after creation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from photon_common import contract

from ..model.spec import Cluster
from . import meta
from .config import node_config

DATA_PATH = "/var/lib/photon"
UID = 10001
# A node listed in the bootstrap members starts with PHOTON_INITIAL_CLUSTER; any other data
# node (added by scale-out) joins through the peer Service instead. Needs /bin/sh in the image.
BOOT_SCRIPT = (
    f'case ",${{{meta.BOOTSTRAP_ENV}}}," in *",${{POD_NAME}}="*) '
    f'export PHOTON_INITIAL_CLUSTER="${{{meta.BOOTSTRAP_ENV}}}";; esac; exec photon-node'
)


@dataclass(frozen=True)
class Release:
    version: str
    image: str


def bootstrap_members(c: Cluster, replicas: int, max_voters: int) -> str:
    """The first voters: the lowest ordinals, an odd count up to max_voters."""
    count = max(1, min(replicas, max_voters))
    count -= 1 if count % 2 == 0 else 0
    pods = [meta.pod_name(c, contract.ROLE_DATA, i) for i in range(count)]
    return ",".join(f"{pod}={meta.peer_address(c, pod)}" for pod in pods)


def _env(c: Cluster, role: str, bootstrap: str | None) -> list[dict[str, Any]]:
    peers = f"{meta.peer_service(c)}.$(POD_NAMESPACE).svc"
    field = [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")]
    env: list[dict[str, Any]] = [
        {"name": n, "valueFrom": {"fieldRef": {"fieldPath": p}}} for n, p in field
    ]
    plain = {
        "PHOTON_NODE_ID": "$(POD_NAME)",
        "PHOTON_ROLE": role,
        "PHOTON_DATA_DIR": f"{DATA_PATH}/data",
        "PHOTON_LISTEN": f"0.0.0.0:{contract.CLIENT_PORT}",
        "PHOTON_PEER_LISTEN": f"0.0.0.0:{contract.PEER_PORT}",
        "PHOTON_ADVERTISE_CLIENT": f"$(POD_NAME).{peers}:{contract.CLIENT_PORT}",
        "PHOTON_ADVERTISE_PEER": f"$(POD_NAME).{peers}:{contract.PEER_PORT}",
        "PHOTON_JOIN": f"{peers}:{contract.PEER_PORT}",
        "PHOTON_CLUSTER_SECRET_FILE": f"/etc/photon/secret/{meta.SECRET_KEY}",
        "PHOTON_CONFIG": f"/etc/photon/config/{meta.CONFIG_KEY}",
    }
    if bootstrap:
        plain[meta.BOOTSTRAP_ENV] = bootstrap
    return env + [{"name": k, "value": v} for k, v in plain.items()]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "client"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _default_affinity(c: Cluster, role: str) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": meta.selector(c, role)}}
    spread = {"weight": 100, "podAffinityTerm": {**term, "topologyKey": "kubernetes.io/hostname"}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [spread]}}


def _container(c: Cluster, role: str, release: Release, bootstrap: str | None) -> dict[str, Any]:
    command = ["/bin/sh", "-c", BOOT_SCRIPT] if bootstrap else ["photon-node"]
    ports = [("client", contract.CLIENT_PORT, "TCP"), ("peer", contract.PEER_PORT, "TCP")]
    ports.append(("gossip", contract.PEER_PORT, "UDP"))
    return {
        "name": "photon-node",
        "image": release.image,
        "imagePullPolicy": c.image_pull_policy,
        "command": command,
        "env": _env(c, role, bootstrap),
        "ports": [{"name": n, "containerPort": p, "protocol": t} for n, p, t in ports],
        "startupProbe": _probe(contract.HEALTH_STARTUP, 5, 120),
        "readinessProbe": _probe(contract.HEALTH_READY, 5, 3),
        "livenessProbe": _probe(contract.HEALTH_LIVE, 10, 6),
        "resources": dict(c.role(role).resources),
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_PATH},
            {"name": "config", "mountPath": "/etc/photon/config", "readOnly": True},
            {"name": "secret", "mountPath": "/etc/photon/secret", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def pod_template(c: Cluster, role: str, release: Release, bootstrap: str | None) -> dict:
    spec = c.role(role)
    annotations = {meta.ANN_VERSION: release.version, **c.pod_annotations}
    annotations[f"{meta.PREFIX}/config-hash"] = _hash(node_config(c))
    if c.scrape_annotations:
        annotations.update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(contract.CLIENT_PORT),
                "prometheus.io/path": contract.METRICS_PATH,
            }
        )
    pod: dict[str, Any] = {
        "serviceAccountName": "default",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": c.termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": dict(spec.affinity) if spec.affinity else _default_affinity(c, role),
        "containers": [_container(c, role, release, bootstrap)],
        "volumes": [
            {"name": "config", "configMap": {"name": meta.config_name(c)}},
            {"name": "secret", "secret": {"secretName": meta.secret_name(c)}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }
    optional = {
        "tolerations": [dict(t) for t in spec.tolerations],
        "topologySpreadConstraints": [dict(t) for t in spec.topology_spread],
        "nodeSelector": dict(spec.node_selector),
        "priorityClassName": spec.priority_class,
        "imagePullSecrets": [{"name": n} for n in c.image_pull_secrets],
    }
    pod.update({k: v for k, v in optional.items() if v})
    labels = {**c.pod_labels, **meta.labels(c, role)}
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod}


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def template_hash(c: Cluster, role: str, release: Release, bootstrap: str | None) -> str:
    return _hash(pod_template(c, role, release, bootstrap))


def statefulset(
    c: Cluster, role: str, *, release: Release, replicas: int, partition: int, bootstrap: str | None
) -> dict[str, Any]:
    spec = c.role(role)
    template = pod_template(c, role, release, bootstrap)
    digest = _hash(template)
    template["metadata"]["annotations"][meta.ANN_TEMPLATE_HASH] = digest
    claim: dict[str, Any] = {
        "metadata": {"name": "data", "labels": meta.labels(c, role)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": spec.storage.size}},
        },
    }
    if spec.storage.storage_class:
        claim["spec"]["storageClassName"] = spec.storage.storage_class
    annotations = {meta.ANN_TEMPLATE_HASH: digest, meta.ANN_VERSION: release.version}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta.metadata(c, meta.set_name(c, role), role, annotations=annotations),
        "spec": {
            "serviceName": meta.peer_service(c),
            "replicas": replicas,
            "podManagementPolicy": "Parallel",  # readiness needs a leader: start together
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
            "selector": {"matchLabels": meta.selector(c, role)},
            "persistentVolumeClaimRetentionPolicy": {
                "whenScaled": c.pvc_when_scaled,
                "whenDeleted": c.pvc_when_deleted,
            },
            "revisionHistoryLimit": 10,
            "template": template,
            "volumeClaimTemplates": [claim],
        },
    }
