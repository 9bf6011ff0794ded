"""Gossip over real UDP sockets on loopback: GossipService instances in one event loop.

Authenticated membership converges, a node with the wrong secret cannot join, captured frames
cannot be replayed, bad frames are counted by reason, and a restarted node comes back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from photon_common import contract
from photon_node.cluster.auth import DatagramAuth
from photon_node.cluster.gossip import codec
from photon_node.cluster.gossip.core import GossipTimings, MemberMeta, MemberState
from photon_node.cluster.gossip.model import Ping
from photon_node.cluster.gossip.service import GossipService
from tests.support.poll import await_until

pytestmark = pytest.mark.process

SECRET = b"the-cluster-secret"
FAST = GossipTimings(
    probe_interval=0.1,
    probe_timeout=0.04,
    indirect_probes=2,
    suspicion_timeout=0.6,
    push_pull_interval=0.5,
)
ALIVE, DEAD, LEFT = MemberState.ALIVE, MemberState.DEAD, MemberState.LEFT


class Node:
    def __init__(self, service: GossipService, rejects: Counter) -> None:
        self.service, self.rejects = service, rejects

    @property
    def port(self) -> int:
        return self.service.address[1]

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def sees(self, node_id: str, state: MemberState = ALIVE) -> bool:
        member = self.service.members().get(node_id)
        return member is not None and member.state is state


@pytest.fixture
async def cluster():
    started: list[GossipService] = []

    async def start(node_id: str, seeds: tuple[str, ...] = (), secret: bytes = SECRET) -> Node:
        rejects: Counter = Counter()
        local = MemberMeta(
            node_id, "127.0.0.1:0", "127.0.0.1:7700", (contract.ROLE_DATA,), contract.VERSION,
            contract.PROTOCOL_VERSION, contract.PROTOCOL_VERSION,
        )  # fmt: skip
        service = GossipService(
            local,
            secret=secret,
            bind=("127.0.0.1", 0),
            seeds=seeds,
            timings=FAST,
            on_reject=lambda reason: rejects.update([reason]),
            rejoin_interval=0.2,
        )
        await service.start()
        started.append(service)
        return Node(service, rejects)

    yield start
    for service in started:
        await service.stop(leave=False)


async def eventually(condition: Callable[[], object], what: str, timeout: float = 10.0):
    async def check():
        return condition()

    return await await_until(check, timeout, interval=0.02, what=what)


async def test_three_nodes_converge_and_a_wrong_secret_cannot_join(cluster):
    a = await cluster("a")
    b = await cluster("b", seeds=(f"localhost:{a.port}",))  # a DNS name, resolved off-loop
    c = await cluster("c", seeds=(a.addr, b.addr))
    nodes = [a, b, c]
    await eventually(
        lambda: all(n.sees(m) for n in nodes for m in "abc"), "three nodes see each other"
    )
    a.service.update_local(replace(a.service.local, draining=True, metrics=(("rev", 3.0),)))
    await eventually(
        lambda: all(n.service.members()["a"].meta.draining for n in nodes), "metadata spreads"
    )

    intruder = await cluster("d", seeds=(a.addr,), secret=b"not-the-secret")
    await eventually(lambda: a.rejects["bad_mac"] >= 3, "the intruder's frames are rejected")
    assert not any("d" in n.service.members() for n in nodes)
    assert set(intruder.service.members()) == {"d"}
    assert intruder.rejects == Counter()  # nobody answered it

    await c.service.stop(leave=True)
    await eventually(lambda: a.sees("c", LEFT) and b.sees("c", LEFT), "c's leave is seen")


async def test_replayed_unsigned_stale_and_malformed_frames_are_rejected(cluster):
    captured: asyncio.Queue[bytes] = asyncio.Queue()

    class Sniffer(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple) -> None:
            captured.put_nowait(data)

    loop = asyncio.get_running_loop()
    sniffer, _ = await loop.create_datagram_endpoint(Sniffer, local_addr=("127.0.0.1", 0))
    try:
        sniffer_port = sniffer.get_extra_info("sockname")[1]
        a = await cluster("a", seeds=(f"127.0.0.1:{sniffer_port}",))  # a joins through us
        frame = await asyncio.wait_for(captured.get(), 10.0)
    finally:
        sniffer.close()
    b = await cluster("b")
    target = ("127.0.0.1", b.port)

    sniffer, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=target)
    try:
        sniffer.sendto(frame)  # a's real push-pull, first delivery: accepted, b learns a
        await eventually(lambda: b.sees("a"), "the captured frame is accepted once")
        sniffer.sendto(frame)
        await eventually(lambda: b.rejects["replayed"] == 1, "the replay is rejected")

        [plain] = codec.encode(Ping(1, "x", "b"))
        sniffer.sendto(plain)
        await eventually(lambda: b.rejects["unsigned"] == 1, "an unsigned frame is rejected")
        old = DatagramAuth(SECRET, clock=lambda: time.time() - 120)
        sniffer.sendto(old.seal(plain))
        await eventually(lambda: b.rejects["stale"] == 1, "a stale frame is rejected")
        sniffer.sendto(DatagramAuth(SECRET).seal(b"\x01\x01{not json"))
        sniffer.sendto(b"short")
        await eventually(lambda: b.rejects["malformed"] == 2, "malformed frames are rejected")
    finally:
        sniffer.close()
    assert set(b.rejects) == {"replayed", "unsigned", "stale", "malformed"}
    assert a.rejects == Counter()


async def test_a_crashed_node_is_declared_dead_and_its_restart_comes_back(cluster):
    a = await cluster("a")
    b = await cluster("b", seeds=(a.addr,))
    await eventually(lambda: a.sees("b") and b.sees("a"), "two nodes see each other")
    before = a.service.members()["b"].incarnation

    await b.service.stop(leave=False)  # as if it crashed
    await eventually(lambda: a.sees("b", DEAD), "the silent node is declared dead")

    again = await cluster("b", seeds=(a.addr,))
    await eventually(lambda: a.sees("b") and again.sees("a"), "the restarted node is back")
    assert a.service.members()["b"].incarnation > before
    assert a.service.members()["b"].meta.peer_addr == again.addr
