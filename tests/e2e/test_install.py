"""Install: the operator chart (helm upgrade --install with the image under test) leaves both
CRDs Established, the operator Deployment available with its liveness probe passing, and its
Prometheus /metrics scrapeable and parseable through its Service."""

from __future__ import annotations

import json

from tests.e2e.helpers import Kubectl, wait_until
from tests.e2e.photon import OPERATOR_NAMESPACE, OPERATOR_RELEASE, helm, parse_metrics, raw

CRDS = ["photonclusters.photondb.io", "pyralognetworks.photondb.io"]


def test_helm_release_deployed(kube: Kubectl, operator: Kubectl) -> None:
    releases = json.loads(helm(kube, "list", "-n", OPERATOR_NAMESPACE, "-o", "json"))
    ours = [r for r in releases if r["name"] == OPERATOR_RELEASE]
    assert ours and ours[0]["status"] == "deployed", releases


def test_crds_established(kube: Kubectl, operator: Kubectl) -> None:
    for name in CRDS:
        crd = kube.json("get", "crd", name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, conditions)
        assert conditions.get("NamesAccepted") == "True", (name, conditions)
    # the short name and the scale subresource the other scenarios rely on
    resources = kube.out("api-resources", "--api-group=photondb.io", "-o", "wide")
    assert "photon" in resources.split(), resources


def test_operator_healthy(operator: Kubectl) -> None:
    deploy = operator.json("get", "deployment", OPERATOR_RELEASE)
    available = {c["type"]: c["status"] for c in deploy["status"]["conditions"]}
    assert available.get("Available") == "True", deploy["status"]
    pods = operator.json("get", "pods", "-l", f"app.kubernetes.io/instance={OPERATOR_RELEASE}")
    running = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 1, [p["metadata"]["name"] for p in running]
    pod = running[0]
    container = pod["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["spec"]["securityContext"].get("runAsNonRoot") is True
    state = pod["status"]["containerStatuses"][0]
    assert state["ready"] and state["restartCount"] == 0, state
    # the same endpoint the kubelet probes, through the API server's pod proxy
    health = raw(
        operator,
        f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/pods/{pod['metadata']['name']}:8080/proxy/healthz",
    )
    assert "lastReconcile" in json.loads(health), health


def test_operator_metrics_scrapeable(operator: Kubectl) -> None:
    service = f"{OPERATOR_RELEASE}-metrics"
    svc = operator.json("get", "service", service)
    port = svc["spec"]["ports"][0]["port"]
    path = f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/services/{service}:{port}/proxy/metrics"
    families = wait_until(
        lambda: (
            (f := parse_metrics(raw(operator, path))) and "photon_operator_reconcile" in f and f
        ),
        60,
        "operator /metrics with photon_operator_reconcile",
    )
    for name in ("photon_operator_reconcile_duration_seconds", "photon_operator_handler"):
        assert name in families, sorted(families)
    # its own metrics only: not the default registry's process_/python_ collectors twice
    assert all(n.startswith("photon_operator_") for n in families), sorted(families)
