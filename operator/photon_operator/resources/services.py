"""The headless peer Service (discovery; not-ready pods published) and the client Service."""

from __future__ import annotations

from typing import Any

from photon_common import contract

from ..model.spec import Cluster
from . import meta

_PORTS = [
    {"name": "client", "port": contract.CLIENT_PORT, "targetPort": "client", "protocol": "TCP"},
    {"name": "peer", "port": contract.PEER_PORT, "targetPort": "peer", "protocol": "TCP"},
    {"name": "gossip", "port": contract.PEER_PORT, "targetPort": "gossip", "protocol": "UDP"},
]


def peer_service(c: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta.metadata(c, meta.peer_service(c)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,  # peers must find each other before a leader
            "selector": meta.selector(c),
            "ports": _PORTS,
        },
    }


def client_service(c: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta.metadata(c, meta.client_service(c)),
        "spec": {
            "type": "ClusterIP",
            "selector": meta.selector(c),
            "ports": [_PORTS[0]],
        },
    }
