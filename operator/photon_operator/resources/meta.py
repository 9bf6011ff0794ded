"""Deterministic names, labels, selectors and owner references of every owned object."""

from __future__ import annotations

from typing import Any

from photon_common import contract

from ..model.spec import Cluster

PREFIX = contract.API_GROUP  # annotation and label prefix
ANN_TEMPLATE_HASH = f"{PREFIX}/template-hash"
ANN_VERSION = f"{PREFIX}/version"
ANN_SCALE_IN_VICTIMS = f"{PREFIX}/scale-in-victims"
SECRET_KEY = "cluster-secret"
CONFIG_KEY = "photon.yaml"
BOOTSTRAP_ENV = "PHOTONDB_BOOTSTRAP_CLUSTER"


def secret_name(c: Cluster) -> str:
    return f"{c.name}-secret"


def config_name(c: Cluster) -> str:
    return f"{c.name}-config"


def peer_service(c: Cluster) -> str:
    return f"{c.name}-peers"


def client_service(c: Cluster) -> str:
    return c.name


def set_name(c: Cluster, role: str) -> str:
    return f"{c.name}-{role}"


def pod_name(c: Cluster, role: str, ordinal: int) -> str:
    return f"{set_name(c, role)}-{ordinal}"


def peer_address(c: Cluster, pod: str) -> str:
    return f"{pod}.{peer_service(c)}.{c.namespace}.svc:{contract.PEER_PORT}"


def labels(c: Cluster, role: str | None = None) -> dict[str, str]:
    out = {
        contract.LABEL_NAME: "photondb",
        contract.LABEL_INSTANCE: c.name,
        contract.LABEL_MANAGED_BY: "photon-operator",
        contract.LABEL_CLUSTER: c.name,
    }
    if role:
        out[contract.LABEL_COMPONENT] = role
        out[contract.LABEL_ROLE] = role
    return out


def selector(c: Cluster, role: str | None = None) -> dict[str, str]:
    out = {contract.LABEL_CLUSTER: c.name}
    if role:
        out[contract.LABEL_ROLE] = role
    return out


def selector_text(c: Cluster, role: str | None = None) -> str:
    return ",".join(f"{k}={v}" for k, v in selector(c, role).items())


def owner(c: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": f"{contract.API_GROUP}/{contract.API_VERSION}",
        "kind": contract.KIND_CLUSTER,
        "name": c.name,
        "uid": c.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(c: Cluster, name: str, role: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": c.namespace,
        "labels": labels(c, role),
        "ownerReferences": [owner(c)],
        **extra,
    }
