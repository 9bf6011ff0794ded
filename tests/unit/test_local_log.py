"""Group commit: many concurrent proposals, few fsyncs, results in order."""

import asyncio

from photon_node.cluster.log import LocalLog
from photon_node.core.commands import Command, Kind, Outcome
from photon_node.core.metrics import NodeMetrics
from photon_node.storage.datadir import prepare
from photon_node.storage.engine import Engine


async def test_concurrent_proposals_are_batched(tmp_path):
    engine = Engine.open(prepare(str(tmp_path / "d"), "n1"))
    metrics = NodeMetrics()
    calls = 0
    apply = engine.apply

    def counting_apply(commands):
        nonlocal calls
        calls += 1
        return apply(commands)

    engine.apply = counting_apply
    log = LocalLog(engine, metrics, max_batch=64)
    results = await asyncio.gather(
        *(log.propose(Command(Kind.PUT, f"k{i}".encode(), b"v")) for i in range(200))
    )
    await log.close()
    engine.close()
    assert sorted(r.revision for r in results) == list(range(1, 201))
    assert all(r.outcome is Outcome.OK for r in results)
    assert calls < 200 // 2, f"{calls} batches for 200 writes: group commit is not batching"


async def test_close_commits_queued_proposals_then_refuses(tmp_path):
    engine = Engine.open(prepare(str(tmp_path / "d"), "n1"))
    log = LocalLog(engine, NodeMetrics(), max_batch=4)
    pending = [
        asyncio.ensure_future(log.propose(Command(Kind.PUT, b"k%d" % i, b"v"))) for i in range(10)
    ]
    await asyncio.sleep(0)
    await log.close()
    results = await asyncio.wait_for(asyncio.gather(*pending), 5)
    assert all(r.outcome is Outcome.OK for r in results)
    assert engine.revision == 10
    try:
        await log.propose(Command(Kind.PUT, b"late", b"v"))
        raise AssertionError("a closed log accepted a write")
    except Exception as error:
        assert "shutting down" in str(error)
    engine.close()


async def test_write_failure_fails_pending_and_later_proposals(tmp_path):
    engine = Engine.open(prepare(str(tmp_path / "d"), "n1"))

    def broken(commands):
        raise OSError("disk gone")

    real_apply, engine.apply = engine.apply, broken
    log = LocalLog(engine, NodeMetrics(), max_batch=4)
    outcomes = await asyncio.gather(
        *(log.propose(Command(Kind.PUT, b"k", b"v")) for _ in range(3)), return_exceptions=True
    )
    assert all("not made durable" in str(o) for o in outcomes)
    assert log.failure is not None and not log.alive
    try:
        await log.propose(Command(Kind.PUT, b"k", b"v"))
        raise AssertionError("a failed log accepted a write")
    except Exception as error:
        assert "storage has failed" in str(error)
    engine.apply = real_apply
    engine.close()
