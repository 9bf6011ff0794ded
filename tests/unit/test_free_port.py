"""The test harness's port picker never hands out a port twice: the kernel may offer a port
again once its probe socket is closed (in 3,000 probes here, about 300 repeats), and two nodes,
or a node's client and peer listeners, once got the same one."""

from tests.support.nodeproc import free_port


def test_free_port_never_repeats():
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
