"""Validation: the API server itself (OpenAPI schema + CEL rules in the CRDs) refuses invalid
PhotonCluster and PyralogNetwork objects and forbidden changes, with messages a user can act on.
Nothing invalid reaches the operator. Cases live in fixtures/validation/*.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import FIXTURES, Images, Kubectl, fixture_text, wait_until
from tests.e2e.photon import API, Cluster, create_cluster


@pytest.fixture(scope="module")
def namespace_v(module_namespace: Kubectl) -> Kubectl:
    return module_namespace


def _cases(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((FIXTURES / "validation" / name).read_text())


def _object(kind: str, case: dict[str, Any]) -> str:
    obj: dict[str, Any] = {
        "apiVersion": API,
        "kind": kind,
        "metadata": {"name": case.get("name", case["case"])},
    }
    if "spec" in case:
        obj["spec"] = case["spec"]
    return json.dumps(obj)


def _refused(ns: Kubectl, manifest: str) -> str:
    proc = ns.run("create", "-f", "-", input=manifest, check=False)
    assert proc.returncode != 0, f"accepted: {manifest}\n{proc.stdout}"
    return proc.stderr


@pytest.mark.parametrize("case", _cases("invalid-clusters.yaml"), ids=lambda c: c["case"])
def test_invalid_cluster_refused(namespace_v: Kubectl, case: dict[str, Any]) -> None:
    error = _refused(namespace_v, _object("PhotonCluster", case))
    assert "is invalid" in error and case["expect"] in error, error


@pytest.mark.parametrize("case", _cases("invalid-networks.yaml"), ids=lambda c: c["case"])
def test_invalid_network_refused(namespace_v: Kubectl, case: dict[str, Any]) -> None:
    error = _refused(namespace_v, _object("PyralogNetwork", case))
    assert "is invalid" in error and case["expect"] in error, error


def test_nothing_invalid_was_stored(namespace_v: Kubectl) -> None:
    assert namespace_v.json("get", "photonclusters")["items"] == []
    assert namespace_v.json("get", "pyralognetworks")["items"] == []


def test_valid_network_stored_with_defaults(namespace_v: Kubectl) -> None:
    namespace_v.apply(fixture_text("validation/valid-network.yaml"))
    spec = namespace_v.json("get", "pyralognetwork", "pair")["spec"]
    assert spec["replication"]["acknowledgement"] == "Async"  # defaults applied by the server
    assert spec["conflictResolution"]["strategy"] == "LastWriterWins"
    assert spec["members"][0]["readOnly"] is False


@pytest.fixture(scope="module")
def valid(namespace_v: Kubectl, operator: Kubectl, images: Images) -> Cluster:
    return create_cluster(namespace_v, "validation/valid.yaml", images)


@pytest.mark.parametrize("case", _cases("transitions.yaml"), ids=lambda c: c["case"])
def test_forbidden_change_refused(valid: Cluster, case: dict[str, Any]) -> None:
    before = valid.obj()
    proc = valid.ns.run(
        "patch", "photon", valid.name, "--type=merge", "-p", json.dumps(case["patch"]), check=False
    )
    assert proc.returncode != 0, f"accepted: {case['patch']}"
    assert case["expect"] in proc.stderr, proc.stderr
    after = valid.obj()
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]


def test_allowed_change_accepted_and_defaulted(valid: Cluster) -> None:
    spec = valid.obj()["spec"]
    # defaults the CRD fills in (what `kubectl get -o yaml` shows a user)
    assert spec["pvcRetention"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["upgrade"]["onGateFailure"] == "Pause"
    assert spec["imagePullPolicy"] == "IfNotPresent"
    valid.ns.run(
        "patch", "photon", valid.name, "--type=merge", "-p", '{"spec":{"version":"0.2.0"}}'
    )
    assert valid.obj()["spec"]["version"] == "0.2.0"
    # the API accepts a minor step; a downgrade of two minors from there is refused
    proc = valid.ns.run(
        "patch", "photon", valid.name, "--type=merge", "-p",
        '{"spec":{"version":"0.0.9"}}', check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "a downgrade may go back at most one minor version" in proc.stderr, proc.stderr


def test_operator_still_reconciles(valid: Cluster) -> None:
    """The refused requests never reached the operator: the object keeps being reconciled."""
    status = wait_until(
        lambda: (
            (s := valid.status()).get("observedGeneration") == valid.obj()["metadata"]["generation"]
            and s
        ),
        90,
        "status of the newest generation",
        diagnose=valid.describe,
    )
    assert status.get("phase") in {"Creating", "Running", "Upgrading", "Degraded", "Paused"}
