"""Smoke: the images and the storage work in the cluster, before any operator is involved.

One photon-node pod from the node image, its data on a PersistentVolumeClaim of the default
StorageClass, a Service in front: it becomes Ready, serves writes and reads through the Service,
keeps its data when the pod is replaced, and the volume goes away with the claim. The operator
image starts its interpreter with kopf and photon_operator importable. The tests share one
namespace and run in file order.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import (
    Images,
    Kubectl,
    fixture_text,
    http,
    pod_http,
    port_forward,
    wait_until,
)

POD = "smoke-node"
PVC = "smoke-data"
CLIENT_PORT = 7700


@pytest.fixture(scope="module")
def ns(module_namespace: Kubectl) -> Kubectl:
    return module_namespace


def _apply_node(ns: Kubectl, images: Images) -> None:
    ns.apply(fixture_text("smoke/node-pod.yaml", PHOTON_NODE_IMAGE=images.node))


def test_default_storage_class(kube: Kubectl) -> None:
    classes = kube.json("get", "storageclass")["items"]
    default = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert default, f"no default StorageClass among {[c['metadata']['name'] for c in classes]}"


def test_node_pod_becomes_ready_on_a_persistent_volume(ns: Kubectl, images: Images) -> None:
    _apply_node(ns, images)
    pod = ns.wait_ready("pod", POD, timeout=180)
    assert pod["spec"]["containers"][0]["image"] == images.node
    pvc = ns.get("pvc", PVC)
    assert pvc is not None
    assert pvc["status"]["phase"] == "Bound"
    pv = ns.get("pv", pvc["spec"]["volumeName"])
    assert pv is not None
    assert pv["spec"]["claimRef"]["name"] == PVC


def test_node_image_runs_unprivileged(ns: Kubectl) -> None:
    assert ns.out("exec", POD, "--", "id", "-u").strip() == "10001"
    # the data directory is the volume and is writable by the node's user
    assert ns.out("exec", POD, "--", "ls", "/var/lib/photon/data").split()
    # nothing else is: the fixture runs with a read-only root filesystem
    denied = ns.run("exec", POD, "--", "touch", "/opt/photon/x", check=False)
    assert denied.returncode != 0
    assert ns.out("exec", POD, "--", "photon-node", "--version").strip()


def test_write_and_read_through_the_service(ns: Kubectl) -> None:
    with port_forward(ns, f"svc/{POD}", CLIENT_PORT) as base:
        wait_until(
            lambda: http("GET", f"{base}/health/ready")[0] == 200, 60, "ready via port-forward"
        )
        status, body = http("PUT", f"{base}/kv/smoke%2Fgreeting", b"hello from e2e")
        assert status == 200, body
        assert json.loads(body)["revision"] >= 1
        assert http("GET", f"{base}/kv/smoke%2Fgreeting") == (200, b"hello from e2e")
        status, metrics = http("GET", f"{base}/_metrics")
        assert status == 200
        lines = metrics.decode().splitlines()
        assert any(line.startswith("photon_build_info{") for line in lines)
        assert "photon_node_ready 1.0" in lines
    # the same Service by its cluster DNS name, from inside the cluster
    url = f"http://{POD}.{ns.namespace}.svc.cluster.local:{CLIENT_PORT}/kv/smoke%2Fgreeting"
    assert pod_http(ns, POD, "GET", url) == (200, b"hello from e2e")


def test_data_survives_pod_replacement(ns: Kubectl, images: Images) -> None:
    volume = ns.json("get", "pvc", PVC)["spec"]["volumeName"]
    ns.run("delete", "pod", POD, "--wait=true", "--timeout=60s", timeout=90)
    _apply_node(ns, images)
    ns.wait_ready("pod", POD, timeout=180)
    assert ns.json("get", "pvc", PVC)["spec"]["volumeName"] == volume
    url = f"http://127.0.0.1:{CLIENT_PORT}/kv/smoke%2Fgreeting"
    assert pod_http(ns, POD, "GET", url) == (200, b"hello from e2e")


def test_operator_image_has_the_operator(ns: Kubectl, images: Images) -> None:
    ns.apply(fixture_text("smoke/operator-import-pod.yaml", PHOTON_OPERATOR_IMAGE=images.operator))

    def finished() -> str | None:
        phase = (ns.get("pod", "smoke-operator-import") or {}).get("status", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_until(
        finished,
        120,
        "operator import pod finished",
        diagnose=lambda: ns.describe("pod", "smoke-operator-import"),
    )
    logs = ns.out("logs", "smoke-operator-import")
    assert phase == "Succeeded", logs
    assert "uid=10001" in logs


def test_deleting_the_claim_frees_the_volume(ns: Kubectl) -> None:
    volume = ns.json("get", "pvc", PVC)["spec"]["volumeName"]
    ns.run("delete", "pod", POD, "--wait=true", "--timeout=60s", timeout=90)
    ns.run("delete", "pvc", PVC, "--wait=true", "--timeout=60s", timeout=90)
    wait_until(
        lambda: ns.get("pv", volume) is None, 60, f"PV {volume} deleted (reclaimPolicy Delete)"
    )
