"""Round batching on the leader (raft/rounds.py), on three real nodes: while a round cannot
commit, later writes wait on the leader and then go out together as one round."""

import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster.test_replication import get, put
from tests.support.cluster import metric
from tests.support.poll import wait_until

pytestmark = pytest.mark.process

WRITES = 20


def _rounds_persisted(node) -> float:
    """Appends the node made durable with entries in them (one per round on a leader)."""
    count = metric(node.url, "photon_commit_batch_size_count")
    assert count is not None, "photon_commit_batch_size_count is not exported"
    return count


@pytest.mark.parametrize("limit", [1, 0])
def test_writes_wait_for_the_round_in_flight_and_commit_together(cluster, limit):
    # A long election timeout: the leader keeps leading while its followers are stopped.
    flags = ["--election-ticks", "100", "--raft-rounds-in-flight", str(limit)]
    cluster.bootstrap(3, extra=flags)
    leader = cluster.leader()
    followers = [n for n in cluster.nodes.values() if n is not leader]
    raft = cluster.status(leader)["raft"]
    before, rounds_before = raft["last_index"], _rounds_persisted(leader)
    assert raft["commit_index"] == before and raft["waiting_proposals"] == 0
    for node in followers:
        node.signal(signal.SIGSTOP)
    with ThreadPoolExecutor(WRITES) as pool:
        futures = [pool.submit(put, leader, f"r{i}", f"v{i}".encode(), 30) for i in range(WRITES)]
        try:

            def arrived() -> bool:  # every write is in the leader's log or waiting there
                raft = cluster.status(leader)["raft"]
                appended = raft["last_index"] - before
                return appended + raft["waiting_proposals"] == WRITES and (
                    limit == 1 or appended == WRITES  # unbounded: appended at the next Ready
                )

            wait_until(arrived, 10, what="all writes reached the leader")
            raft = cluster.status(leader)["raft"]
            assert raft["commit_index"] == before  # nothing can commit without a follower
            if limit == 1:
                assert raft["rounds_in_flight"] == 1
                assert raft["last_index"] - before < WRITES  # the first round only...
                assert raft["waiting_proposals"] >= 1  # ...the rest wait for it to commit
            else:
                assert raft["waiting_proposals"] == 0
            appended_while_stopped = raft["last_index"] - before
        finally:
            for node in followers:  # before the pool waits for the writes
                node.signal(signal.SIGCONT)
        revisions = [future.result(timeout=30) for future in futures]
    assert len(set(revisions)) == WRITES  # every write acknowledged, each its own revision
    raft = cluster.status(leader)["raft"]
    assert raft["last_index"] == before + WRITES and raft["waiting_proposals"] == 0
    wait_until(lambda: cluster.status(leader)["raft"]["commit_index"] == before + WRITES, 10)
    rounds = _rounds_persisted(leader) - rounds_before
    if limit == 1:  # the first round, then everything that waited for it as one more
        assert rounds == 2
    else:  # a round per Ready that found a write: as many as came apart
        assert appended_while_stopped == WRITES and rounds >= 1
    for node in cluster.nodes.values():
        assert get(node, f"r{WRITES - 1}") == (200, f"v{WRITES - 1}".encode())
