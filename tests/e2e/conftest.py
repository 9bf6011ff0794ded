"""End-to-end tests against a real Kubernetes cluster.

Which cluster: $KUBECONFIG if set, else the local one from `make cluster-up`
(hack/localk8s, kubeconfig /var/tmp/photondb-localk8s/admin.kubeconfig). Which kubectl: $KUBECTL,
kubectl on PATH, else the one hack/localk8s/build.sh cached.

The e2e tests run only when asked for: tests/e2e (or a file in it) named on the pytest command
line (`make e2e`), or E2E=1 / E2E_REQUIRED=1. A plain `pytest tests` (`make test`) skips them,
so it never creates anything in whatever cluster a developer's KUBECONFIG points at.
With no reachable cluster every test here is skipped with the reason, unless E2E_REQUIRED=1
(CI after `make cluster-up images`), where they fail instead. Images: E2E_NODE_IMAGE and
E2E_OPERATOR_IMAGE (default photondb/node:<version>, photondb/operator:<version>, as
`make images` tags them). E2E_KEEP_NAMESPACES=1 keeps the namespace of a failed test.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.helpers import (
    Images,
    Kubectl,
    find_kubeconfig,
    find_kubectl,
    project_version,
    wait_until,
)
from tests.e2e.photon import OPERATOR_NAMESPACE, install_operator

E2E_LABEL = "photondb.io/e2e"


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def _required() -> bool:
    return _flag("E2E_REQUIRED")


def _asked_for(config: pytest.Config) -> bool:
    """tests/e2e, or something inside it, was named on the command line (or E2E=1)."""
    if _flag("E2E") or _required():
        return True
    here = os.path.dirname(os.path.abspath(__file__))
    root = str(config.invocation_params.dir)
    for arg in config.invocation_params.args:
        path = os.path.abspath(os.path.join(root, str(arg).split("::", 1)[0]))
        if path == here or path.startswith(here + os.sep):
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: needs a reachable Kubernetes cluster (tests/e2e)")


# scenario files in the order they build on each other (cheap and basic first); any other
# file after them, alphabetically
ORDER = ["smoke", "install", "validation", "create", "heal", "delete", "scale", "upgrade"]
REPORT: list[str] = []  # lines for the terminal summary (e.g. writer failure counts)


def _rank(item: pytest.Item) -> tuple[int, str]:
    stem = item.path.stem.removeprefix("test_")
    return (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    ours = [item for item in items if str(item.path).startswith(here)]
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    if ours:
        first = items.index(ours[0])
        rest = [item for item in items if item not in ours]
        ranked = sorted(ours, key=_rank)  # stable: file order within a module
        items[:] = rest[:first] + ranked + rest[first:]


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if REPORT:
        terminalreporter.section("e2e report")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # for the namespace fixtures' teardown
    return report


def _probe_cluster() -> tuple[Kubectl | None, str]:
    """(kubectl, "") when a cluster answers and has a Ready node, else (None, reason)."""
    binary = find_kubectl()
    if binary is None:
        return None, "no kubectl (set KUBECTL, put kubectl on PATH, or run `make cluster-up`)"
    kubeconfig = find_kubeconfig()
    if kubeconfig is None:
        return None, "KUBECONFIG is unset and no local cluster is up (`make cluster-up`)"
    kube = Kubectl(binary, kubeconfig)
    try:
        nodes = kube.json("get", "nodes", "--request-timeout=10s", timeout=20)
    except Exception as error:
        return None, f"cluster at {kubeconfig} does not answer: {error}"
    ready = [
        n["metadata"]["name"]
        for n in nodes.get("items", [])
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
    ]
    if not ready:
        return None, f"cluster at {kubeconfig} has no Ready node"
    return kube, ""


@pytest.fixture(scope="session")
def kube(pytestconfig: pytest.Config) -> Kubectl:
    """kubectl for the cluster under test (no default namespace). Skips or fails the session's
    e2e tests when they were not asked for or there is no cluster; see the module docstring."""
    if not _asked_for(pytestconfig):
        pytest.skip("e2e: not selected (run `make e2e` or `pytest tests/e2e`, or set E2E=1)")
    kubectl, reason = _probe_cluster()
    if kubectl is None:
        if _required():
            pytest.fail(f"E2E_REQUIRED is set but {reason}", pytrace=False)
        pytest.skip(f"e2e: {reason}")
    return kubectl


@pytest.fixture(autouse=True)
def _e2e_gate(kube: Kubectl) -> None:
    """Every test in tests/e2e needs the cluster, used or not."""


@pytest.fixture(scope="session")
def images() -> Images:
    version = project_version()
    return Images(
        node=os.environ.get("E2E_NODE_IMAGE", f"photondb/node:{version}"),
        operator=os.environ.get("E2E_OPERATOR_IMAGE", f"photondb/operator:{version}"),
    )


@pytest.fixture(scope="session")
def operator(kube: Kubectl, images: Images) -> Kubectl:
    """The operator chart installed (`helm upgrade --install`, idempotent) with the images
    under test; kubectl bound to the operator's namespace."""
    install_operator(kube, images)
    return kube.in_namespace(OPERATOR_NAMESPACE)


def _create_namespace(kube: Kubectl, hint: str) -> Kubectl:
    slug = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-")
    name = f"e2e-{slug}-{secrets.token_hex(3)}"
    kube.apply(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
        f'  labels: {{"{E2E_LABEL}": "true"}}\n'
    )
    scoped = kube.in_namespace(name)
    # the ServiceAccount controller must have made `default` before pods can be created
    wait_until(lambda: scoped.get("serviceaccount", "default"), 60, f"namespace {name} ready")
    return scoped


def _delete_namespace(kube: Kubectl, scoped: Kubectl, failed: bool) -> None:
    name = scoped.namespace
    assert name
    if failed and os.environ.get("E2E_KEEP_NAMESPACES") == "1":
        print(f"\nE2E_KEEP_NAMESPACES=1: kept namespace {name}")
        return
    try:
        # wait, so PVs are released before the next test (bounded: a stuck finalizer must
        # not hang the run; the namespace then finishes deleting in the background)
        kube.run("delete", "namespace", name, "--wait=true", "--timeout=120s", timeout=150)
    except (subprocess.TimeoutExpired, RuntimeError) as error:
        print(f"\nwarning: namespace {name} not deleted in time: {error}")


def _failed(node: pytest.Item | pytest.Module) -> bool:
    if isinstance(node, pytest.Item):
        reports = (getattr(node, f"rep_{when}", None) for when in ("setup", "call"))
        return any(getattr(report, "failed", False) for report in reports)
    return node.session.testsfailed > 0


@pytest.fixture
def namespace(kube: Kubectl, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    """A fresh namespace for one test (kubectl bound to it); deleted afterwards."""
    scoped = _create_namespace(kube, request.node.name)
    yield scoped
    _delete_namespace(kube, scoped, _failed(request.node))


@pytest.fixture(scope="module")
def module_namespace(kube: Kubectl, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    """A namespace shared by the tests of one module (they run in file order)."""
    scoped = _create_namespace(kube, request.module.__name__.rsplit(".", 1)[-1])
    yield scoped
    _delete_namespace(kube, scoped, _failed(request.node))
