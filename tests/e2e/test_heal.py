"""Heal: a deleted pod (the Raft leader) is replaced and rejoins; a node process killed with
SIGKILL inside its pod is restarted by the kubelet and rejoins; the cluster stays writable
through both (a writer runs through the client Service the whole time) and loses no
acknowledged write."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import REPORT
from tests.e2e.helpers import Images, Kubectl, wait_until
from tests.e2e.photon import (
    Cluster,
    Writer,
    check_no_lost_writes,
    create_cluster,
    host_kill_node_process,
    start_client_pod,
)

REPLICAS = 3
PREFIX = "heal-"


@pytest.fixture(scope="module")
def cluster(module_namespace: Kubectl, operator: Kubectl, images: Images) -> Cluster:
    c = create_cluster(module_namespace, "heal/cluster.yaml", images)
    start_client_pod(module_namespace, images)
    c.wait_running(REPLICAS)
    return c


@pytest.fixture(scope="module")
def writer(cluster: Cluster):  # type: ignore[no-untyped-def]
    w = Writer(cluster, PREFIX)
    w.wait_acked(10, timeout=60)
    yield w
    w.kill()


def _rejoined(cluster: Cluster, pod: str, old_uid: str | None = None, restarts: int = -1):  # type: ignore[no-untyped-def]
    def ok() -> bool:
        p = cluster.ns.json("get", "pod", pod)
        if old_uid and p["metadata"]["uid"] == old_uid:
            return False
        state = (p["status"].get("containerStatuses") or [{}])[0]
        if state.get("restartCount", 0) <= restarts or not state.get("ready"):
            return False
        view = cluster.raft_view()
        follower = view["raft"]["followers"].get(pod)
        is_member = pod in view["raft"]["voters"] and (view["id"] == pod or follower)
        return bool(is_member) and (view["id"] == pod or follower["lag"] < 50)

    wait_until(ok, 180, f"{pod} back, Ready and a caught-up voter", diagnose=cluster.describe)


def test_deleted_leader_pod_is_replaced_and_rejoins(cluster: Cluster, writer: Writer) -> None:
    leader = cluster.raft_view()["id"]
    old_uid = cluster.ns.json("get", "pod", leader)["metadata"]["uid"]
    before = writer.progress()["acked"]
    t0 = time.monotonic()
    cluster.ns.run("delete", "pod", leader, "--wait=false")
    # a new leader is elected among the others, and the cluster takes writes meanwhile
    wait_until(
        lambda: cluster.raft_view()["id"] != leader, 60, "a new leader", diagnose=cluster.describe
    )
    writer.wait_acked(before + 10, timeout=60)
    _rejoined(cluster, leader, old_uid=old_uid)
    status = cluster.wait_running(REPLICAS, timeout=120)
    REPORT.append(
        f"heal: leader pod {leader} deleted -> replaced and rejoined in "
        f"{time.monotonic() - t0:.0f}s; leader now {status['leader']}"
    )


def test_killed_node_process_restarts_and_rejoins(cluster: Cluster, writer: Writer) -> None:
    pod = cluster.pod_name(1)
    restarts = cluster.ns.json("get", "pod", pod)["status"]["containerStatuses"][0]["restartCount"]
    before = writer.progress()["acked"]
    t0 = time.monotonic()
    pid = host_kill_node_process(cluster, pod)
    if pid is None:
        pytest.skip("cannot reach the pod's processes from here (needs the local cluster, root)")
    _rejoined(cluster, pod, restarts=restarts)
    p = cluster.ns.json("get", "pod", pod)
    last = p["status"]["containerStatuses"][0]["lastState"].get("terminated", {})
    assert last.get("exitCode") == 137 or last.get("signal") == 9, last  # killed, not stopped
    writer.wait_acked(before + 10, timeout=60)
    cluster.wait_running(REPLICAS, timeout=120)
    REPORT.append(
        f"heal: photon-node in {pod} SIGKILLed -> restarted and rejoined in "
        f"{time.monotonic() - t0:.0f}s"
    )


def test_no_acknowledged_write_lost(cluster: Cluster, writer: Writer) -> None:
    result = writer.stop()
    check_no_lost_writes(cluster, result, PREFIX)
    assert len(result.acked) > 20, result.summary()
    REPORT.append(f"heal writer: {result.summary()}")
