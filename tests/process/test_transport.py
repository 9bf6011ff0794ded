"""The authenticated peer transport on real loopback sockets."""

import asyncio
import contextlib

import pytest
import uvloop

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


@contextlib.asynccontextmanager
async def pair(a_secret=SECRET, got=None, rejects=None):
    """Transports a and b, started on free loopback ports; b records what it receives."""
    pa, pb = free_port(), free_port()
    peers = {"a": f"127.0.0.1:{pa}", "b": f"127.0.0.1:{pb}"}
    a = make("a", pa, peers, secret=a_secret)
    b = make("b", pb, peers, got=got, rejects=rejects)
    await a.start("127.0.0.1", pa)
    await b.start("127.0.0.1", pb)
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


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
    got: list = []
    rejects: list = []
    async with pair(b"another-secret-another-secret-xx", got, rejects) as (a, _):
        a.send("b", FrameType.RAFT, b"forged")
        await await_until(lambda: _true("bad_mac" in rejects), 10, what="hello refused")
        assert got == []
        assert not a.connected("b")


async def test_frames_of_every_size_arrive_whole_and_in_order():
    """Frames are parsed as bytes arrive: many small ones per read, large ones over many reads."""
    got: list = []
    sizes = [0, 1, 3, 100, 70_000, 3 << 20, 5, *range(0, 4000, 7), 1 << 20, 2]
    bodies = [bytes([n % 251]) * n for n in sizes]
    async with pair(got=got) as (a, _):
        assert a.send("b", FrameType.RAFT, b"first")
        await await_until(lambda: _true(got), 10, what="connected")
        for body in bodies:
            assert a.send("b", FrameType.RAFT, body)
        await await_until(lambda: _true(len(got) == 1 + len(bodies)), 20, what="every frame")
        assert [body for _, _, body in got[1:]] == bodies
        assert a.connected("b")


async def test_a_forged_frame_on_an_open_stream_closes_it_and_is_counted():
    """A frame whose signature does not verify (here: the sender's session key is wrong) is
    not delivered; the receiver counts it and drops the connection; a new hello recovers."""
    got: list = []
    rejects: list = []
    async with pair(got=got, rejects=rejects) as (a, _):
        assert a.send("b", FrameType.RAFT, b"signed")
        await await_until(lambda: _true(got), 10, what="first frame")
        session = a._out["b"]._session_keys
        session._send_key = bytes(32)  # every frame on this stream now carries a wrong MAC
        assert a.send("b", FrameType.RAFT, b"forged")
        await await_until(lambda: _true("bad_mac" in rejects), 10, what="forged frame refused")
        assert [body for _, _, body in got] == [b"signed"]
        await await_until(
            lambda: _true(a._out["b"]._session_keys not in (None, session)),
            10,
            what="a new session after the drop",
        )
        assert a.send("b", FrameType.RAFT, b"after")
        await await_until(lambda: _true(len(got) == 2), 10, what="frame on the new stream")
        assert got[-1][2] == b"after"


def test_sending_to_a_connection_closed_under_it_drops_quietly_and_redials():
    """Between the socket closing and the connection task noticing, a flush from the sender's
    turn (the Raft loop's) must neither raise nor write; the frames are dropped as in flight.
    On uvloop, photon-node's loop, which raises on a write to a closed transport (asyncio's own
    loop only counts such writes)."""
    uvloop.run(_send_to_a_connection_closed_under_it())


async def _send_to_a_connection_closed_under_it():
    got: list = []
    async with pair(got=got) as (a, _):
        assert a.send("b", FrameType.RAFT, b"first")
        await await_until(lambda: _true(got), 10, what="connected")
        out = a._out["b"]
        closing = out._writer
        closing.transport.abort()  # as when the peer dies: closed before the task wakes
        await asyncio.sleep(0)
        assert out._writer is closing and closing.transport.is_closing()
        assert a.send("b", FrameType.RAFT, b"lost")
        a.flush()  # raised RuntimeError from the closed transport before the fix
        assert out.pending == []
        await await_until(lambda: _true(out._writer not in (None, closing)), 10, what="redial")
        assert a.send("b", FrameType.RAFT, b"after")
        await await_until(lambda: _true(len(got) == 2), 10, what="frame after redial")
        assert [body for _, _, body in got] == [b"first", b"after"]


async def _true(value) -> bool:
    await asyncio.sleep(0)
    return bool(value)
