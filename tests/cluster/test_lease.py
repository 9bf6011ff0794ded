"""The read lease on real processes whose election timeouts differ.

n1 waits 100 ticks before an election, n2 and n3 wait 10. A lease computed from n1's own timeout
would outlive the moment n2 and n3 may elect a new leader. Here n1 leads, is paused, and n2 and
n3 can no longer reach it (a one-way cut: their connections to n1 go through a link the test
cuts, while n1 still reaches them). They elect a leader and acknowledge a new value. When n1
wakes it has heard of none of this; a lease from its own timeout would still be running and it
would serve the old value. The lease scaled to the shortest timeout of the quorum has run out,
so n1 must confirm with a quorum first, which it cannot: it does not answer with the old
value. (With the lease patched to ignore the reported timeouts, n1 served the old value in 3
runs of 3.)
"""

import signal
import urllib.error

import pytest

from tests.cluster.test_replication import get, put
from tests.support.poll import wait_until

pytestmark = pytest.mark.process


def test_a_leader_with_a_longer_timeout_does_not_serve_a_stale_read(cluster):
    # 100 ticks of 50 ms for n1: 5 s, against 0.5 s for n2 and n3.
    cluster.bootstrap(3, ["--read-mode", "lease"], linked=("n1",),
                      per_node={"n1": ["--election-ticks", "100"]})  # fmt: skip
    link = cluster.links["n1"]
    n1 = cluster.nodes["n1"]
    cluster.make_leader("n1")
    put(n1, "fact", b"old")
    wait_until(lambda: get(n1, "fact") == (200, b"old"), 10, what="n1 serves its write")

    n1.signal(signal.SIGSTOP)
    try:
        link.cut()
        new = cluster.leader(exclude=("n1",), timeout=30)
        wait_until(lambda: _acknowledged(new, "fact", b"new"), 20, what="the new value written")
    finally:
        n1.signal(signal.SIGCONT)
    # Within a second or two of the pause: a lease from n1's own 5 s timeout would still hold.
    # n1 tries to confirm its leadership until its request deadline (10 s) or until it notices
    # it lost the quorum (up to two of its 5 s check-quorum windows), then answers 503.
    status, body = get(n1, "fact", timeout=30)
    assert (status, body) != (200, b"old"), "n1 served a stale read from an expired lease"
    # 503 (it could not confirm), or the new value if it learnt of the new leader meanwhile.
    assert status == 503 or (status, body) == (200, b"new"), (status, body)
    assert get(new, "fact") == (200, b"new")


def _acknowledged(node, key: str, value: bytes) -> bool:
    """One PUT; False on a 503 (a leader change under way: the caller retries the same value)."""
    try:
        put(node, key, value)
    except urllib.error.HTTPError as error:
        with error:
            if error.code != 503:
                raise
        return False
    return True
