"""Observer and coordinator roles on real processes."""

import pytest

from tests.cluster.test_membership import call, raft
from tests.support.poll import wait_until

pytestmark = pytest.mark.process


def test_observer_is_a_read_only_learner(cluster):
    cluster.bootstrap(3)
    observer = cluster.join("obs", extra=["--role", "observer"], ready=False)
    leader = cluster.leader()
    wait_until(lambda: "obs" in raft(cluster, leader)["learners"], 30, what="observer learner")
    assert call(f"{leader.url}/kv/seen", "PUT", b"by-all")[0] == 200
    wait_until(lambda: call(f"{observer.url}/kv/seen?consistency=stale") == (200, b"by-all"),
               30, what="observer replicated")  # fmt: skip
    status, body = call(f"{observer.url}/kv/nope", "PUT", b"x")
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert call(f"{observer.url}/kv/seen")[1] == b"by-all"  # linearizable read via the leader
    # never promoted, even with room for more voters
    for _ in range(3):
        assert "obs" not in raft(cluster, cluster.leader())["voters"]


def test_coordinator_stores_nothing_and_routes(cluster):
    cluster.bootstrap(3)
    coordinator = cluster.join("coord", extra=["--role", "coordinator"], ready=False)
    wait_until(lambda: call(f"{coordinator.url}/health/ready")[0] == 200, 30,
               what="coordinator ready once it knows a data node")  # fmt: skip
    assert call(f"{coordinator.url}/kv/routed", "PUT", b"via-coordinator")[0] == 200
    assert call(f"{coordinator.url}/kv/routed") == (200, b"via-coordinator")
    leader = cluster.leader()
    assert call(f"{leader.url}/kv/routed") == (200, b"via-coordinator")
    members = raft(cluster, leader)
    assert "coord" not in members["voters"] + members["learners"]
    assert cluster.status(coordinator)["raft"] is None
    assert not (coordinator.data_dir / "db").exists()  # it never opened a store
