"""Scale: `kubectl scale photon/NAME --replicas=5`, then back to 3, while a writer runs through
the client Service. The new nodes join Raft (5 voters); on the way back each drained node
leaves the Raft configuration before its pod is deleted (one at a time, highest ordinal
first); no acknowledged write is lost; the status shows the operation while it runs; the
removed nodes' volumes follow pvcRetention.whenScaled=Delete."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import REPORT
from tests.e2e.helpers import Images, Kubectl, wait_until
from tests.e2e.photon import (
    Cluster,
    Monitor,
    Writer,
    check_no_lost_writes,
    create_cluster,
    start_client_pod,
)

PREFIX = "scale-"


@pytest.fixture(scope="module")
def cluster(module_namespace: Kubectl, operator: Kubectl, images: Images) -> Cluster:
    c = create_cluster(module_namespace, "scale/cluster.yaml", images)
    start_client_pod(module_namespace, images)
    c.wait_running(3)
    return c


@pytest.fixture(scope="module")
def writer(cluster: Cluster):  # type: ignore[no-untyped-def]
    w = Writer(cluster, PREFIX)
    w.wait_acked(10, timeout=60)
    yield w
    w.kill()


def _pvc_names(cluster: Cluster) -> set[str]:
    return {p["metadata"]["name"] for p in cluster.ns.json("get", "pvc")["items"]}


def test_scale_out_to_five(cluster: Cluster, writer: Writer) -> None:
    t0 = time.monotonic()
    with Monitor(cluster) as monitor:
        cluster.ns.run("scale", f"photon/{cluster.name}", "--replicas=5")
        assert cluster.obj()["spec"]["data"]["replicas"] == 5
        status = cluster.wait_running(5, timeout=240)
    # The leader promotes each new learner once it has caught up, one change at a time: the
    # last promotion may commit just after the pods are all Running.
    expected = [cluster.pod_name(i) for i in range(5)]

    def five_voters() -> bool:
        raft = cluster.raft_view()["raft"]
        return sorted(raft["voters"]) == expected and raft["learners"] == []

    wait_until(five_voters, 60, what="five voters", diagnose=lambda: str(cluster.raft_view()))
    assert "Scaling" in monitor.phases(), monitor.phases()
    seen = monitor.first(lambda s: (s.operation or {}).get("type") == "ScaleOut")
    assert seen is not None, "status.operation never showed the scale-out"
    assert status["replicas"] == 5
    REPORT.append(
        f"scale: 3 -> 5 Running in {time.monotonic() - t0:.0f}s, phases {monitor.phases()}"
    )


def test_scale_in_to_three_drains_first(cluster: Cluster, writer: Writer) -> None:
    before = writer.progress()["acked"]
    t0 = time.monotonic()
    with Monitor(cluster) as monitor:
        cluster.ns.run("scale", f"photon/{cluster.name}", "--replicas=3")
        status = cluster.wait_running(3, timeout=300)
    victims = [cluster.pod_name(4), cluster.pod_name(3)]
    left, gone = {}, {}
    for s in monitor.samples:
        for v in victims:
            config = (s.voters or []) + (s.learners or [])
            if s.voters is not None and v not in config and v not in left:
                left[v] = s.t
            pod = s.pods.get(v)
            if (pod is None or pod["deleting"]) and v not in gone:
                gone[v] = s.t
    assert set(left) == set(victims), f"never saw {victims} leave Raft: {left}"
    assert set(gone) == set(victims), gone
    for v in victims:
        assert left[v] <= gone[v], f"{v} deleted {left[v] - gone[v]:.1f}s before it left Raft"
    # one at a time, highest ordinal first
    assert gone[victims[0]] <= left[victims[1]], (left, gone)
    drains = [
        (s.operation or {}).get("victim")
        for s in monitor.samples
        if (s.operation or {}).get("type") == "ScaleIn"
    ]
    assert [v for v in victims if v in drains] == victims, set(d for d in drains if d)
    assert "Scaling" in monitor.phases(), monitor.phases()
    assert status["replicas"] == 3 and len(status["members"]) == 3
    view = cluster.raft_view()
    assert sorted(view["raft"]["voters"]) == [cluster.pod_name(i) for i in range(3)], view["raft"]
    writer.wait_acked(before + 10, timeout=60)
    wait_until(
        lambda: not {f"data-{v}" for v in victims} & _pvc_names(cluster),
        120,
        "PVCs of the removed nodes deleted (whenScaled: Delete)",
    )
    assert {f"data-{cluster.pod_name(i)}" for i in range(3)} <= _pvc_names(cluster)
    REPORT.append(
        f"scale: 5 -> 3 Running in {time.monotonic() - t0:.0f}s; left Raft -> pod deleted: "
        + ", ".join(f"{v} {gone[v] - left[v]:.1f}s" for v in victims)
    )


def test_no_acknowledged_write_lost(cluster: Cluster, writer: Writer) -> None:
    result = writer.stop()
    check_no_lost_writes(cluster, result, PREFIX)
    REPORT.append(f"scale writer: {result.summary()}")
