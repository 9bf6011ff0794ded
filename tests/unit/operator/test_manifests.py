"""CRDs, examples, both Helm charts and the rendered k8s/ manifests.

The helm tests use $HELM, else the local Kubernetes toolchain's helm, else `helm` on PATH, and
skip when none exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from photon_common import contract
from photon_operator.model.spec import parse_cluster

from . import schema

ROOT = Path(__file__).resolve().parents[3]
CRDS = sorted((ROOT / "crds").glob("*.yaml"))
LOCAL_HELM = Path.home() / ".cache/photondb/localk8s/v1.35.4/bin/helm"
HELM = os.environ.get("HELM") or (str(LOCAL_HELM) if LOCAL_HELM.exists() else shutil.which("helm"))
needs_helm = pytest.mark.skipif(not HELM, reason="no helm binary")


def crd(kind: str) -> dict:
    for path in CRDS:
        doc = yaml.safe_load(path.read_text())
        if doc["spec"]["names"]["kind"] == kind:
            return doc
    raise AssertionError(kind)


def schema_of(kind: str) -> dict:
    return crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def examples() -> list[dict]:
    docs = []
    for path in sorted((ROOT / "k8s/examples").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def helm(*args: str) -> str:
    run = subprocess.run([HELM, *args], capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_crds_are_well_formed():
    cluster = crd(contract.KIND_CLUSTER)
    assert cluster["spec"]["group"] == contract.API_GROUP
    assert cluster["spec"]["names"]["shortNames"] == ["photon"]
    version = cluster["spec"]["versions"][0]
    assert version["name"] == contract.API_VERSION
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.data.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:3] == ["Ready", "Version", "Phase"] and columns[-1] == "Age"
    assert crd(contract.KIND_NETWORK)["spec"]["names"]["shortNames"] == ["pnet"]


def test_crd_transition_rules_exist():
    spec = schema_of(contract.KIND_CLUSTER)["properties"]["spec"]["properties"]
    rules = [r["rule"] for r in spec["version"]["x-kubernetes-validations"]]
    assert all("oldSelf" in rule for rule in rules)
    storage = spec["data"]["properties"]["storage"]["x-kubernetes-validations"]
    assert any("storageClassName == oldSelf.storageClassName" in r["rule"] for r in storage)


def test_chart_carries_the_same_crds():
    for path in CRDS:
        assert (ROOT / "charts/photon-operator/crds" / path.name).read_text() == path.read_text()


def test_examples_match_the_schemas_and_parse():
    docs = [d for d in examples() if d["apiVersion"].startswith(contract.API_GROUP)]
    assert {d["kind"] for d in docs} == {contract.KIND_CLUSTER, contract.KIND_NETWORK}
    for doc in docs:
        assert schema.errors(schema_of(doc["kind"]), doc) == [], doc["metadata"]["name"]
        if doc["kind"] == contract.KIND_CLUSTER:
            doc["metadata"].setdefault("namespace", "default")
            parse_cluster(doc, default_repository="photondb/node")


def test_schema_checker_catches_typos():
    spec = {"version": "1.0", "data": {"replicaz": 3}, "upgrade": {"onGateFailure": "X"}}
    bad = {"apiVersion": "photondb.io/v1alpha1", "kind": "PhotonCluster", "metadata": {}}
    bad["spec"] = spec
    found = schema.errors(schema_of(contract.KIND_CLUSTER), bad)
    assert any("replicaz" in e for e in found)
    assert any("version" in e for e in found)
    assert any("onGateFailure" in e for e in found)


@needs_helm
@pytest.mark.parametrize("chart", ["photon-operator", "photon-cluster"])
def test_helm_lint(chart):
    helm("lint", "--strict", str(ROOT / "charts" / chart))


def kinds(text: str) -> list[tuple[str, str | None]]:
    docs = [d for d in yaml.safe_load_all(text) if d]
    return sorted((d["kind"], d["metadata"].get("namespace")) for d in docs)


@needs_helm
def test_cluster_wide_render():
    out = helm("template", "op", str(ROOT / "charts/photon-operator"), "-n", "photon-system")
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert {d["kind"] for d in docs} == {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment",
    }  # fmt: skip
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "photondb/operator:0.1.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "readinessProbe" not in container
    rules = [r for d in docs if d["kind"] == "ClusterRole" for r in d["rules"]]
    assert not any("pods/proxy" in r["resources"] for r in rules)
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)


@needs_helm
def test_namespaced_render_with_proxy_access():
    out = helm(
        "template", "op", str(ROOT / "charts/photon-operator"), "-n", "ops",
        "--set", "watchNamespaces={a,b}", "--set", "nodeAccess=proxy",
    )  # fmt: skip
    docs = [d for d in yaml.safe_load_all(out) if d]
    roles = [d for d in docs if d["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["a", "b"]
    assert any("pods/proxy" in rule["resources"] for rule in roles[0]["rules"])
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole"]
    assert [c["metadata"]["name"] for c in cluster_roles] == ["op-photon-operator-discovery"]
    env = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    values = {e["name"]: e["value"] for e in env["containers"][0]["env"]}
    assert values["PHOTON_OPERATOR_NAMESPACES"] == "a,b"


@needs_helm
def test_values_schema_refuses_bad_values():
    run = subprocess.run(
        [HELM, "template", "op", str(ROOT / "charts/photon-operator"), "--set", "nodeAccess=x"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert run.returncode != 0 and "nodeAccess" in run.stderr


@needs_helm
def test_cluster_chart_renders_a_valid_photoncluster():
    out = helm("template", "mydb", str(ROOT / "charts/photon-cluster"), "-n", "db")
    (doc,) = [d for d in yaml.safe_load_all(out) if d]
    assert doc["kind"] == contract.KIND_CLUSTER and doc["metadata"]["name"] == "mydb"
    assert schema.errors(schema_of(contract.KIND_CLUSTER), doc) == []


@needs_helm
def test_checked_in_manifests_are_current(tmp_path):
    script = ROOT / "k8s/render.sh"
    copy = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", copy)
    (tmp_path / "charts").symlink_to(ROOT / "charts")
    subprocess.run([str(copy / script.name), HELM], check=True, timeout=120)
    assert (copy / "photon-operator.yaml").read_text() == (
        ROOT / "k8s/photon-operator.yaml"
    ).read_text(), "run k8s/render.sh"
    assert kinds((ROOT / "k8s/photon-operator.yaml").read_text())[0] == ("ClusterRole", None)
