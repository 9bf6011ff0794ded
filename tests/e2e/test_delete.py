"""Delete: deleting a PhotonCluster removes everything it owns (StatefulSets, pods, Services,
ConfigMap, Secret, PDBs) and the operator's finalizer lets it go; the data volumes follow
spec.pvcRetention.whenDeleted (Retain keeps the PVCs and their PVs, Delete removes both)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Images, Kubectl, fixture_text, wait_until
from tests.e2e.photon import Cluster


def _named(c: str) -> list[tuple[str, str]]:
    return [
        ("statefulset", f"{c}-data"),
        ("service", c),
        ("service", f"{c}-peers"),
        ("configmap", f"{c}-config"),
        ("secret", f"{c}-secret"),
    ]


OWNED_KINDS = "statefulsets,pods,services,configmaps,secrets,poddisruptionbudgets"


@pytest.fixture(scope="module")
def clusters(module_namespace: Kubectl, operator: Kubectl, images: Images) -> dict[str, Cluster]:
    module_namespace.apply(fixture_text("delete/clusters.yaml", PHOTON_NODE_IMAGE=images.node))
    found = {name: Cluster(module_namespace, name) for name in ("keep", "drop")}
    for c in found.values():
        c.wait_running(1)
    return found


def _owned(c: Cluster) -> list[str]:
    items = c.ns.json("get", OWNED_KINDS, "-l", f"photondb.io/cluster={c.name}")["items"]
    return [f"{i['kind']}/{i['metadata']['name']}" for i in items]


def _pvcs(c: Cluster) -> list[dict]:
    items = c.ns.json("get", "pvc")["items"]
    return [p for p in items if p["metadata"]["name"].startswith(f"data-{c.name}-")]


def _delete(c: Cluster) -> None:
    obj = c.obj()
    assert "photondb.io/finalizer" in obj["metadata"].get("finalizers", [])
    assert _owned(c), "nothing labelled as the cluster's before the delete"
    for kind, name in _named(c.name):
        owners = (c.ns.get(kind, name) or {}).get("metadata", {}).get("ownerReferences", [])
        assert [o["uid"] for o in owners] == [obj["metadata"]["uid"]], (kind, name, owners)
    c.ns.run("delete", "photon", c.name, "--wait=true", "--timeout=120s", timeout=150)
    assert c.ns.get("photon", c.name) is None
    wait_until(
        lambda: not _owned(c), 120, f"objects of {c.name} gone", diagnose=lambda: str(_owned(c))
    )
    for kind, name in _named(c.name):  # by name too, in case a label were missing
        assert c.ns.get(kind, name) is None, f"{kind}/{name} still exists"


def test_delete_with_retain_keeps_volumes(clusters: dict[str, Cluster]) -> None:
    c = clusters["keep"]
    pvcs = _pvcs(c)
    assert len(pvcs) == 1
    volume = pvcs[0]["spec"]["volumeName"]
    _delete(c)
    after = _pvcs(c)
    assert [p["metadata"]["name"] for p in after] == [pvcs[0]["metadata"]["name"]]
    assert after[0]["metadata"]["uid"] == pvcs[0]["metadata"]["uid"]
    assert not after[0]["metadata"].get("deletionTimestamp"), "retained PVC is being deleted"
    assert c.ns.get("pv", volume) is not None
    # the other cluster is untouched
    assert clusters["drop"].status()["phase"] == "Running"


def test_delete_with_delete_removes_volumes(clusters: dict[str, Cluster]) -> None:
    c = clusters["drop"]
    pvcs = _pvcs(c)
    assert len(pvcs) == 1
    volume = pvcs[0]["spec"]["volumeName"]
    _delete(c)
    wait_until(lambda: not _pvcs(c), 120, "PVCs of drop deleted", diagnose=lambda: str(_pvcs(c)))
    wait_until(lambda: c.ns.get("pv", volume) is None, 120, f"PV {volume} deleted")
