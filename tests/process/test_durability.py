"""Acknowledged writes survive kill -9: many concurrent writers, killed mid-flight, repeatedly."""

import asyncio
import os
import random

import aiohttp
import pytest

pytestmark = pytest.mark.process

WRITERS = 32
CYCLES = 3


async def writer(session, url, wid, acked, deleted, stop):
    i = 0
    while not stop.is_set():
        key = f"w{wid}-{i}"
        value = os.urandom(64) + key.encode()
        try:
            async with session.put(f"{url}/kv/{key}", data=value) as r:
                if r.status == 200:
                    acked[key] = (value, (await r.json())["revision"])
            if i % 5 == 4:  # delete an earlier acknowledged key now and then
                victim = f"w{wid}-{i - 2}"
                if victim in acked:
                    # Until the delete is answered the key may or may not exist: stop checking it.
                    acked.pop(victim)
                    async with session.delete(f"{url}/kv/{victim}") as r:
                        if r.status == 200:
                            deleted.add(victim)
        except (TimeoutError, aiohttp.ClientError):
            return  # the node died under us: whatever was not answered was not acknowledged
        i += 1


async def verify(url, acked, deleted, cycle):
    sem = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def check(key, value, revision):
            async with sem, session.get(f"{url}/kv/{key}") as r:
                assert r.status == 200, f"acknowledged {key} lost after kill -9 #{cycle + 1}"
                assert await r.read() == value
                assert int(r.headers["X-Photon-Revision"]) == revision

        async def check_deleted(key):
            async with sem, session.get(f"{url}/kv/{key}") as r:
                assert r.status == 404, f"acknowledged delete of {key} undone"

        await asyncio.gather(*(check(k, v, rev) for k, (v, rev) in list(acked.items())))
        await asyncio.gather(*(check_deleted(k) for k in deleted))
        async with session.get(f"{url}/cluster/status") as r:
            status = await r.json()
        assert status["revision"] >= max(rev for _, rev in acked.values())


async def test_kill9_under_concurrent_load_loses_no_acknowledged_write(node):
    acked: dict[str, tuple[bytes, int]] = {}
    deleted: set[str] = set()
    rng = random.Random(42)
    timeout = aiohttp.ClientTimeout(total=10)
    for cycle in range(CYCLES):
        stop = asyncio.Event()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            tasks = [
                asyncio.create_task(writer(session, node.url, f"{cycle}.{w}", acked, deleted, stop))
                for w in range(WRITERS)
            ]
            target = len(acked) + rng.randint(300, 1500)
            deadline = asyncio.get_running_loop().time() + 60
            while len(acked) < target and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            node.kill9()  # mid-flight: writers have requests outstanding right now
            stop.set()
            await asyncio.gather(*tasks)
        assert len(acked) >= target, "load did not reach its target before the deadline"
        node.start().wait_ready()
        await verify(node.url, acked, deleted, cycle)
    assert len(acked) > 900 and deleted
