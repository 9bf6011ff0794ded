"""How a Raft driver on a real RocksDB handles its clients' writes (the transport records):
- a follower forwards them to the leader at once, even while its Raft loop waits for the fsync
  of entries it just received (the PROPOSE depends on nothing it persists);
- a leader starts a round smaller than its last one only after the round linger, unless
  enough proposals arrive first (raft/rounds.py)."""

import asyncio
import threading
import time

from prometheus_client import CollectorRegistry

from photon_node.cluster.raft import codec
from photon_node.cluster.raft.core import RaftOptions, Role
from photon_node.cluster.raft.driver import RaftDriver
from photon_node.cluster.transport import FrameType
from photon_node.core.commands import Command, Kind
from photon_node.core.metrics import NodeMetrics
from photon_node.core.rafttypes import Config, Entry, EntryKind, Message, MsgType
from photon_node.storage.datadir import prepare
from photon_node.storage.engine import Engine
from photon_node.storage.raftstore import RaftStore
from tests.support.poll import await_until

CONFIG = Config.of({"n1": "n1:1", "n2": "n2:1", "n3": "n3:1"})


async def poll(condition, what: str) -> None:
    async def check() -> bool:
        return condition()

    await await_until(check, 10, interval=0.005, what=what)


class Recorder:
    """Stands in for the peer transport: what the driver sent, decoded, in order."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, peer: str, kind: int, body: bytes) -> None:
        assert kind == FrameType.RAFT
        self.sent.append(codec.decode(body))

    def flush(self) -> None:
        pass

    def types(self) -> list[MsgType]:
        return [message.type for message in self.sent]


class HeldFsync:
    """The engine's WAL fsync, held until released; records that it was entered."""

    def __init__(self, engine: Engine) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self._real = engine.sync_wal

    def __call__(self) -> None:
        self.entered.set()
        if not self.release.wait(30):
            raise TimeoutError("the test never released the fsync")
        self._real()


async def test_a_follower_forwards_a_write_while_its_loop_waits_for_an_fsync(tmp_path):
    engine = Engine.open(prepare(str(tmp_path / "data"), "n3"))
    driver = RaftDriver("n3", engine, RaftStore(engine), NodeMetrics(),
                        RaftOptions(check_quorum=False))  # fmt: skip
    transport = driver.transport = Recorder()  # type: ignore[assignment]
    await driver.start(CONFIG)
    fsync = engine.sync_wal = HeldFsync(engine)  # type: ignore[method-assign]
    write = None
    try:
        # n1 leads term 1 and sends an entry: n3 must make it durable before answering.
        entry = Entry(1, 1, EntryKind.NORMAL, b"")
        append = Message(MsgType.APPEND, "n1", "n3", 1, entries=(entry,))
        driver.on_frame("n1", FrameType.RAFT, codec.encode(append))
        await poll(fsync.entered.is_set, "the follower's fsync began")

        write = asyncio.ensure_future(driver.propose(Command(Kind.PUT, b"k", b"v")))
        await poll(lambda: MsgType.PROPOSE in transport.types(), "the write was forwarded")

        assert not fsync.release.is_set()  # the fsync is still in progress...
        assert MsgType.APPEND_RESP not in transport.types()  # ...so nothing acknowledged it
        (proposal,) = [m for m in transport.sent if m.type is MsgType.PROPOSE]
        assert proposal.dst == "n1" and proposal.term == 1 and len(proposal.entries) == 1
        fsync.release.set()
        await poll(lambda: MsgType.APPEND_RESP in transport.types(), "the durable entry's answer")
    finally:
        fsync.release.set()
        if write is not None:
            write.cancel()
        await driver.close()
        engine.close()


SLOW = 0.5  # every fsync takes this long here (a slow disk), so every round does too


def put(i: int) -> Command:
    return Command(Kind.PUT, f"k{i}".encode(), b"v")


async def test_a_smaller_round_waits_up_to_a_round_unless_enough_proposals_arrive(tmp_path):
    engine = Engine.open(prepare(str(tmp_path / "data"), "n1"))
    registry = CollectorRegistry()
    # The linger's own bound is far away: twice the last round's duration (SLOW) bounds it.
    driver = RaftDriver("n1", engine, RaftStore(engine), NodeMetrics(registry), round_linger=60)
    driver.transport = Recorder()  # type: ignore[assignment]
    await driver.start(Config.of({"n1": "n1:1"}))
    real_fsync = engine.sync_wal

    def slow_fsync() -> None:  # on the storage thread, like a disk that takes SLOW per fsync
        time.sleep(SLOW)
        real_fsync()

    engine.sync_wal = slow_fsync  # type: ignore[method-assign]

    def rounds() -> float:
        return registry.get_sample_value("photon_commit_batch_size_count") or 0.0

    async def timed(*commands: Command) -> float:
        started = time.monotonic()
        await asyncio.gather(*(driver.propose(command) for command in commands))
        return time.monotonic() - started

    try:
        await poll(lambda: driver.status()["role"] == Role.LEADER.value, "n1 leads")
        await timed(put(0), put(1), put(2))  # one round of three
        before = rounds()
        # One alone after three waits about two rounds (twice the last one), then its own.
        assert await timed(put(3)) >= 2.7 * SLOW
        assert rounds() == before + 1
        assert await timed(put(4)) < 1.8 * SLOW  # one after one: no reason to wait

        await timed(put(5), put(6), put(7))  # three again, then one that starts to linger...
        before, started = rounds(), time.monotonic()
        first = asyncio.ensure_future(driver.propose(put(8)))
        await poll(lambda: driver.status()["waiting_proposals"] == 1, "the write lingers")
        await asyncio.gather(first, driver.propose(put(9)), driver.propose(put(10)))
        assert time.monotonic() - started < 1.8 * SLOW  # ...until two more make it three
        assert rounds() == before + 1  # and the three went as one round
    finally:
        await driver.close()
        engine.close()
