"""The authenticated peer transport on real loopback sockets."""

import asyncio

import pytest

from photon_node.cluster.transport import FrameType, Identity, PeerTransport
from tests.support.nodeproc import free_port
from tests.support.poll import await_until

pytestmark = pytest.mark.process

SECRET = b"transport-test-secret-0123456789"


def make(node_id: str, port: int, peers: dict[str, str], secret=SECRET, got=None, rejects=None):
    return PeerTransport(
        Identity(node_id, 2, 1),
        secret,
        resolve=peers.get,
        on_frame=lambda peer, kind, body: got.append((peer, kind, body)) if got is not None else 0,
        on_reject=lambda reason: rejects.append(reason) if rejects is not None else 0,
    )


async def test_frames_flow_and_a_closed_peer_is_noticed_without_traffic():
    pa, pb = free_port(), free_port()
    peers = {"a": f"127.0.0.1:{pa}", "b": f"127.0.0.1:{pb}"}
    got: list = []
    a, b = make("a", pa, peers), make("b", pb, peers, got=got)
    await a.start("127.0.0.1", pa)
    await b.start("127.0.0.1", pb)
    try:
        assert a.send("b", FrameType.RAFT, b"hello")
        await await_until(lambda: _true(got), 10, what="frame delivered")
        assert got == [("a", FrameType.RAFT, b"hello")]
        assert a.connected("b")
        await b.stop()  # b goes away: its side of the connection closes
        await await_until(lambda: _true(not a.connected("b")), 10, what="a notices, idle")
        b = make("b", pb, peers, got=got)  # b comes back at the same address
        await b.start("127.0.0.1", pb)
        await await_until(lambda: _true(a.connected("b")), 10, what="a reconnects")
        assert a.send("b", FrameType.RAFT, b"again")
        await await_until(lambda: _true(len(got) == 2), 10, what="frame after reconnect")
    finally:
        await a.stop()
        await b.stop()


async def test_wrong_secret_is_refused_and_counted():
    pa, pb = free_port(), free_port()
    peers = {"a": f"127.0.0.1:{pa}", "b": f"127.0.0.1:{pb}"}
    got: list = []
    rejects: list = []
    a = make("a", pa, peers, secret=b"another-secret-another-secret-xx")
    b = make("b", pb, peers, got=got, rejects=rejects)
    await a.start("127.0.0.1", pa)
    await b.start("127.0.0.1", pb)
    try:
        a.send("b", FrameType.RAFT, b"forged")
        await await_until(lambda: _true("bad_mac" in rejects), 10, what="hello refused")
        assert got == []
        assert not a.connected("b")
    finally:
        await a.stop()
        await b.stop()


async def _true(value) -> bool:
    await asyncio.sleep(0)
    return bool(value)
