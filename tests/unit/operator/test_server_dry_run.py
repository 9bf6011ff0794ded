"""Server-side dry runs against a real API server; skipped unless KUBECONFIG is set.

The CRDs, the rendered install manifests, the operator's own generated objects, and (when the
CRDs are installed in that cluster) the examples are all validated by the API server itself,
CEL rules included. Nothing is created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from photon_operator.reconcile.plan import plan

from .sim import World, body

ROOT = Path(__file__).resolve().parents[3]
LOCAL = Path.home() / ".cache/photondb/localk8s/v1.35.4/bin/kubectl"
KUBECTL = os.environ.get("KUBECTL") or (str(LOCAL) if LOCAL.exists() else shutil.which("kubectl"))
pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG") or not KUBECTL, reason="needs KUBECONFIG and kubectl"
)


def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KUBECTL, *args], input=stdin, capture_output=True, text=True, check=False, timeout=120
    )


def dry_run(*args: str, stdin: str | None = None) -> None:
    # --force-conflicts: a dry run changes nothing, and the cluster may already run the
    # operator installed by Helm (another field manager of the same objects)
    run = kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts", *args, stdin=stdin
    )
    assert run.returncode == 0, run.stderr


def test_crds_and_install_manifests():
    dry_run("-f", str(ROOT / "crds"))
    docs = [d for d in yaml.safe_load_all((ROOT / "k8s/photon-operator.yaml").read_text()) if d]
    items = []
    for doc in docs:  # a dry run cannot create photon-system: use "default" instead
        if doc["kind"] == "Namespace":
            continue
        if doc["metadata"].get("namespace") == "photon-system":
            doc["metadata"]["namespace"] = "default"
        for subject in doc.get("subjects", ()):
            subject["namespace"] = "default"
        items.append(doc)
    dry_run("-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def test_generated_objects():
    world = World(body(name="dryrun", observer={"replicas": 1}))
    world.body["metadata"]["namespace"] = "default"
    result = plan(world.observed(), secret_value="s" * 32)
    items = [*result.create, *result.apply]
    for obj in items:
        obj["metadata"]["namespace"] = "default"
    dry_run("-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def needs_crds() -> None:
    if kubectl("get", "crd", "photonclusters.photondb.io").returncode != 0:
        pytest.skip("the PhotonDB CRDs are not installed in this cluster")


def test_examples_when_the_crds_are_installed():
    needs_crds()
    for path in sorted((ROOT / "k8s/examples").glob("*.yaml")):
        text = path.read_text().replace("namespace: photondb", "namespace: default")
        dry_run("-f", "-", stdin=text)


def cluster_doc(name: str, **spec) -> str:
    spec = {
        "version": "0.2.0",
        "data": {"replicas": 3, "storage": {"storageClassName": "a"}},
        **spec,
    }
    doc = {"apiVersion": "photondb.io/v1alpha1", "kind": "PhotonCluster"}
    doc["metadata"] = {"name": name, "namespace": "default"}
    return json.dumps({**doc, "spec": spec})


@pytest.mark.parametrize(("change", "refusal"), [
    ({"version": "0.1.0"}, None),
    ({"version": "0.0.1"}, "at most one minor version"),
    ({"version": "1.0.0"}, None),
    ({"version": "2.0.0"}, "one at a time"),
    ({"data": {"replicas": 3, "storage": {"storageClassName": "b"}}}, "storageClassName is"),
    ({"data": {"replicas": 3, "storage": {"storageClassName": "a", "size": "20Gi"}}}, "immutable"),
    ({"config": {"join": "x:1"}}, "set by the operator"),
    ({"data": {"replicas": 0}}, "should be greater than or equal to 1"),
])  # fmt: skip
def test_cel_rules_on_update(change, refusal):
    """Creates one short-lived PhotonCluster per case (deleted at once) to test transitions."""
    needs_crds()
    name = f"cel-test-{uuid.uuid4().hex[:8]}"
    create = kubectl("create", "-f", "-", stdin=cluster_doc(name))
    assert create.returncode == 0, create.stderr
    try:
        run = kubectl("apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-",
                      stdin=cluster_doc(name, **change))  # fmt: skip
        if refusal is None:
            assert run.returncode == 0, run.stderr
        else:
            assert run.returncode != 0 and refusal in run.stderr, run.stderr
    finally:
        kubectl("delete", "photoncluster", name, "-n", "default", "--wait=false")


def network_doc(**spec) -> str:
    members = [
        {"name": "a", "clusterRef": {"name": "x"}},
        {"name": "b", "clusterRef": {"name": "y"}},
    ]
    doc = {"apiVersion": "photondb.io/v1alpha1", "kind": "PyralogNetwork"}
    doc["metadata"] = {"name": "net", "namespace": "default"}
    return json.dumps({**doc, "spec": {"members": members, **spec}})


@pytest.mark.parametrize(("spec", "refusal"), [
    ({"replication": {"mode": "ActivePassive", "primary": "a"}}, None),
    ({"replication": {"mode": "ActivePassive"}}, "needs replication.primary"),
    ({"replication": {"mode": "ActivePassive", "primary": "zz"}}, "needs replication.primary"),
    ({"replication": {"mode": "ActiveActive"}, "conflictResolution": {"strategy": "PreferMember"}},
     "preferredMember"),
    ({"replication": {"mode": "ActiveActive"},
      "conflictResolution": {"strategy": "PreferMember", "preferredMember": "b"}}, None),
])  # fmt: skip
def test_network_rules(spec, refusal):
    needs_crds()
    run = kubectl("create", "--dry-run=server", "-f", "-", stdin=network_doc(**spec))
    if refusal is None:
        assert run.returncode == 0, run.stderr
    else:
        assert run.returncode != 0 and refusal in run.stderr, run.stderr
