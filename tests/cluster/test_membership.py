"""Membership on real processes: joining, drain, snapshots, secrets and protocol versions."""

import json
import shutil
import urllib.error
import urllib.request

import pytest

from tests.support.cluster import get_json, metric
from tests.support.poll import wait_until

pytestmark = pytest.mark.process


def _body(raw: bytes, content_type: str):
    return json.loads(raw) if content_type.startswith("application/json") else raw


def call(url: str, method: str = "GET", data: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, _body(response.read(), response.headers["Content-Type"])
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _body(error.read(), error.headers["Content-Type"])


def raft(cluster, node) -> dict:
    return cluster.status(node)["raft"]


def test_fourth_node_joins_as_learner_and_catches_up_by_snapshot(cluster):
    cluster.bootstrap(3, extra=["--snapshot-entries", "100"])
    leader = cluster.leader()
    for i in range(400):  # well past the compaction threshold: the log no longer starts at 1
        assert call(f"{leader.url}/kv/k{i}", "PUT", b"v%d" % i)[0] == 200
    wait_until(lambda: raft(cluster, leader)["snapshot_index"] > 0, 20, what="log compaction")
    fourth = cluster.join("n4", extra=["--snapshot-entries", "100"])
    wait_until(lambda: "n4" in raft(cluster, cluster.leader())["learners"], 30,
               what="n4 added as a learner")  # fmt: skip
    # 4 data nodes: the target is the largest odd voter count, 3; n4 stays a learner.
    assert raft(cluster, cluster.leader())["voters"] == ["n1", "n2", "n3"]
    wait_until(lambda: call(f"{fourth.url}/kv/k399?consistency=stale")[0] == 200, 30,
               what="n4 caught up")  # fmt: skip
    assert "installed snapshot" in fourth.log() or raft(cluster, fourth)["snapshot_index"] > 0


def test_drain_moves_a_voter_out_safely(cluster):
    cluster.bootstrap(3)
    cluster.join("n4")
    leader = cluster.leader()
    wait_until(lambda: "n4" in raft(cluster, leader)["learners"], 30, what="n4 learner")
    victim = leader  # the hardest case: drain the leader itself
    status, body = call(f"{victim.url}/admin/drain", "POST")
    assert status == 202 and body["draining"] is True
    assert call(f"{victim.url}/admin/drain", "POST")[0] in (200, 202)  # idempotent
    wait_until(lambda: call(f"{victim.url}/admin/drain")[1]["drained"], 60, what="drained")
    new_leader = cluster.leader(exclude=(victim.node_id,))
    members = raft(cluster, new_leader)
    assert victim.node_id not in members["voters"] + members["learners"]
    assert len(members["voters"]) == 3 and "n4" in members["voters"]  # promoted first
    assert call(f"{victim.url}/health/ready")[0] == 503
    assert call(f"{new_leader.url}/kv/after-drain", "PUT", b"ok")[0] == 200
    # drained state survives a restart of the drained node
    victim.stop()
    victim.start()
    wait_until(lambda: call(f"{victim.url}/admin/drain")[1]["drained"], 30, what="still drained")


def test_drain_refused_when_it_would_break_quorum(cluster):
    cluster.bootstrap(3)
    leader = cluster.leader()
    down = next(n for n in cluster.nodes.values() if n is not leader)
    down.kill9()
    wait_until(lambda: cluster.status(leader)["members"][down.node_id]["state"] == "dead", 30,
               what="gossip declares the node dead")  # fmt: skip
    other = next(n for n in cluster.nodes.values() if n not in (leader, down))
    status, body = call(f"{other.url}/admin/drain", "POST")
    assert status == 409
    assert "quorum" in body["error"]["message"]
    assert call(f"{other.url}/admin/drain")[1]["state"] == "none"


def test_cancelled_drain_rejoins(cluster):
    cluster.bootstrap(3)
    cluster.join("n4")
    wait_until(lambda: "n4" in raft(cluster, cluster.leader())["learners"], 30, what="learner")
    n4 = cluster.nodes["n4"]
    assert call(f"{n4.url}/admin/drain", "POST")[0] in (200, 202)
    wait_until(lambda: call(f"{n4.url}/admin/drain")[1]["drained"], 30, what="n4 drained")
    assert call(f"{n4.url}/admin/drain", "DELETE")[0] == 200
    wait_until(lambda: "n4" in raft(cluster, cluster.leader())["learners"], 30, what="re-added")
    n4.wait_ready(30)


def test_wrong_secret_cannot_join(cluster):
    cluster.bootstrap(3)
    intruder = cluster.join("evil", secret="a-completely-different-secret!!", ready=False)
    leader = cluster.leader()

    def rejected() -> bool:
        count = metric(leader.url, 'photon_gossip_frames_rejected_total{reason="bad_mac"}')
        return (count or 0) > 0

    wait_until(rejected, 30, what="forged gossip counted")
    assert "evil" not in cluster.status(leader)["members"]
    assert "evil" not in raft(cluster, leader)["learners"]
    wait_until(lambda: call(f"{intruder.url}/health/live")[0] == 200, 30, what="intruder up")
    assert call(f"{intruder.url}/health/ready")[0] == 503  # it never finds a leader


def test_older_protocol_member_gates_new_features(cluster):
    cluster.bootstrap(3)
    old = cluster.join("old", extra=["--protocol-version", "1"])
    leader = cluster.leader()
    wait_until(lambda: cluster.status(leader)["effective_protocol_version"] == 1, 30,
               what="effective protocol drops to 1")  # fmt: skip
    assert call(f"{leader.url}/kv/p", "PUT", b"1")[0] == 200
    status, body = call(f"{leader.url}/kv/p", "PUT", b"2", {"If-Match": "*"})
    assert status == 409 and "protocol 2" in body["error"]["message"]
    assert call(f"{old.url}/kv/p?consistency=stale")[0] in (200, 404)  # mixed cluster works
    old.stop()
    old.extra_args = [a for a in old.extra_args if a not in ("--protocol-version", "1")]
    old.start().wait_ready(60)
    wait_until(lambda: cluster.status(leader)["effective_protocol_version"] == 2, 30,
               what="effective protocol back to 2")  # fmt: skip
    assert call(f"{leader.url}/kv/p", "PUT", b"3", {"If-Match": "*"})[0] == 200


def test_incompatible_protocol_is_refused(cluster):
    cluster.bootstrap(3, extra=["--min-protocol-version", "2"])
    old = cluster.join("ancient", extra=["--protocol-version", "1"], ready=False)
    leader = cluster.leader()
    text = ""

    def refused() -> bool:
        nonlocal text
        text = old.log()
        return "incompatible protocol" in text

    wait_until(refused, 40, what="the old node told why it is refused")
    assert "ancient" not in raft(cluster, leader)["voters"] + raft(cluster, leader)["learners"]
    assert get_json(leader.url + "/cluster/status")["effective_protocol_version"] == 2


def test_voter_that_lost_its_data_catches_up_before_voting(cluster):
    cluster.bootstrap(3, extra=["--snapshot-entries", "100"])
    leader = cluster.leader()
    for i in range(300):
        assert call(f"{leader.url}/kv/d{i}", "PUT", b"%d" % i)[0] == 200
    victim = next(n for n in cluster.nodes.values() if n is not leader)
    victim.stop()
    shutil.rmtree(victim.data_dir)  # the disk is gone; the pod restarts with the same flags
    victim.start()
    wait_until(lambda: "rejoining as a member that withholds its vote" in victim.log(), 30,
               what="the node noticed it lost its data")  # fmt: skip
    wait_until(lambda: call(f"{victim.url}/kv/d299?consistency=stale") == (200, b"299"), 60,
               what="caught up from the leader")  # fmt: skip
    assert raft(cluster, cluster.leader())["voters"] == ["n1", "n2", "n3"]
    assert raft(cluster, victim)["voters"] == ["n1", "n2", "n3"]  # config came from the leader
    assert call(f"{leader.url}/kv/after", "PUT", b"ok")[0] == 200
    cluster.make_leader(victim.node_id)  # a full voter again


def test_a_bootstrap_member_that_starts_late_becomes_a_full_voter(cluster):
    """n1 starts after n2 and n3 have elected a leader and committed writes (a slow pod). The
    bootstrap configuration is in no log entry, so n1 must start from it as the others did:
    it catches up and can then lead. (Started without it, as it was when it took the others
    for a cluster that had lost its disk, n1 caught up but never campaigned: every transfer
    of leadership to it timed out.)"""
    cluster.bootstrap(3, late=("n1",))
    leader = cluster.leader()
    for i in range(20):
        assert call(f"{leader.url}/kv/early{i}", "PUT", b"%d" % i)[0] == 200
    n1 = cluster.nodes["n1"].start().wait_ready(60)
    wait_until(lambda: call(f"{n1.url}/kv/early19?consistency=stale") == (200, b"19"), 30,
               what="n1 caught up")  # fmt: skip
    assert raft(cluster, n1)["voters"] == ["n1", "n2", "n3"]
    cluster.make_leader("n1")
    assert call(f"{n1.url}/kv/late", "PUT", b"ok")[0] == 200
    assert call(f"{leader.url}/kv/late")[1] == b"ok"


def test_a_joined_voter_that_lost_its_data_withholds_its_vote_until_caught_up(cluster):
    """n5 joined (--join) and became a voter, then loses its disk and restarts with the same
    flags. It may have voted in the current term, so it must withhold its vote until it has
    caught up, as a bootstrap member does; then it is a full voter again."""
    cluster.bootstrap(3)
    cluster.join("n4")
    n5 = cluster.join("n5")
    five = ["n1", "n2", "n3", "n4", "n5"]
    wait_until(lambda: raft(cluster, cluster.leader())["voters"] == five, 60,
               what="five voters")  # fmt: skip
    leader = cluster.leader()
    if leader is n5:
        cluster.make_leader("n1")
        leader = cluster.nodes["n1"]
    for i in range(50):
        assert call(f"{leader.url}/kv/j{i}", "PUT", b"%d" % i)[0] == 200
    n5.stop()
    shutil.rmtree(n5.data_dir)
    n5.start().wait_ready(60)
    assert "withholding its vote until caught up" in n5.log()
    wait_until(lambda: call(f"{n5.url}/kv/j49?consistency=stale") == (200, b"49"), 30,
               what="n5 caught up")  # fmt: skip
    wait_until(lambda: raft(cluster, n5)["vote_floor"] is None, 30, what="n5 votes again")
    assert raft(cluster, n5)["voters"] == five
    cluster.make_leader("n5")


def test_a_member_that_lost_its_data_keeps_its_vote_floor_across_a_restart(cluster):
    """n3 loses its disk and restarts; it learns the leader's commit index (its vote floor) and
    gets part of the log before the link to it is cut (1.5 MB through: the first append of
    about 1,000 entries out of 3,000). Restarted again, with entries applied this time, it must
    still withhold its vote until its log reaches the same floor: the floor is on its disk, not
    only in its memory. (With the floor kept in memory only, this restart voted normally.)"""
    from concurrent.futures import ThreadPoolExecutor

    cluster.bootstrap(3, linked=("n3",))
    leader = cluster.leader()
    value = b"x" * 1024
    with ThreadPoolExecutor(16) as pool:
        codes = pool.map(lambda i: call(f"{leader.url}/kv/f{i}", "PUT", value)[0], range(3000))
        assert set(codes) == {200}
    victim, link = cluster.nodes["n3"], cluster.links["n3"]
    victim.stop()
    shutil.rmtree(victim.data_dir)
    link.limit(1_500_000)
    victim.start()
    wait_until(lambda: link.is_cut, 60, what="the first 1.5 MB reached n3")
    # The append that got through is persisted and then applied: wait for it to be applied.
    applied = lambda: (_raft_or_none(cluster, victim) or {}).get("applied_index", 0) > 0  # noqa: E731
    wait_until(applied, 30, what="n3 applied what reached it")
    before = raft(cluster, victim)
    floor = before["vote_floor"]
    # The floor is the commit index the leader first told it: min(its match before the wipe,
    # the commit index) in a heartbeat, the commit index in an append; either is far ahead.
    assert floor is not None and floor >= 2000, before
    assert 0 < before["applied_index"] <= before["last_index"] < floor, before

    victim.kill9()
    victim.start()
    wait_until(lambda: _raft_or_none(cluster, victim), 30, what="n3 answers after its restart")
    after = raft(cluster, victim)
    assert after["vote_floor"] == floor, (before, after)
    assert after["last_index"] >= before["last_index"] and after["role"] == "follower", after

    link.restore()
    wait_until(lambda: raft(cluster, victim)["vote_floor"] is None, 60, what="n3 caught up")
    # The floor clears when the log reaches it; the stale read waits for the entry's apply.
    stale = lambda: call(f"{victim.url}/kv/f2999?consistency=stale") == (200, value)  # noqa: E731
    wait_until(stale, 30, what="n3 applied the last write")


def _raft_or_none(cluster, node) -> dict | None:
    try:
        return raft(cluster, node)
    except (OSError, ValueError, KeyError):
        return None
