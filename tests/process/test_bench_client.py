"""The benchmark's HTTP client on loopback: answers by length and chunked, keep-alive reuse,
and the load generator end to end against its null server and a real node."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from httpclient import HttpError, RawClient  # noqa: E402

pytestmark = pytest.mark.process


async def _server(handler):
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_lengths_chunks_and_reuse():
    peers = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        peers.add(request.transport.get_extra_info("peername"))
        body = await request.read()
        if request.path == "/chunked":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for part in (b"ab", b"cde", body):
                await response.write(part)
            await response.write_eof()
            return response
        return web.Response(status=201, body=body[::-1])

    runner, url = await _server(handler)
    client = RawClient([url], timeout=5)
    try:
        assert await client.request(0, "PUT", "/x", b"hello") == (201, b"olleh")
        assert await client.request(0, "POST", "/chunked", b"!") == (200, b"abcde!")
        assert await client.request(0, "GET", "/y") == (201, b"")
        assert len(peers) == 1  # one connection, kept alive
    finally:
        await client.close()
        await runner.cleanup()


async def test_a_server_that_hangs_up_is_an_error():
    async def handler(request: web.Request) -> web.Response:
        request.transport.close()
        return web.Response()

    runner, url = await _server(handler)
    client = RawClient([url], timeout=5)
    try:
        with pytest.raises(HttpError):
            await client.request(0, "GET", "/")
    finally:
        await client.close()
        await runner.cleanup()


def loadgen(*args: str) -> dict:
    command = [sys.executable, str(BENCH / "loadgen.py"), "--json", "--warmup", "0", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return {p["phase"]: p for p in json.loads(done.stdout)["phases"]}


@pytest.mark.parametrize("http", ["raw", "aiohttp"])
def test_loadgen_against_a_real_node(node, http):
    phases = loadgen("--endpoints", node.url, "--concurrency", "4", "--max-ops", "300",
                     "--duration", "30", "--keys", "50", "--ops", "put,get,get_stale",
                     "--http", http, "--server-pids", str(node.proc.pid))  # fmt: skip
    for name in ("put", "get", "get_stale"):
        assert phases[name]["errors"] == 0 and phases[name]["ops"] == 300
        assert phases[name]["server_cpu_us_per_op"] is not None  # read from /proc
        assert phases[name]["client_cpu_us_per_op"] > 0
    assert phases["put"]["server_cpu_us_per_op"] > 0  # 300 fsync'd writes: well over a tick


def test_loadgen_null_ceiling():
    phases = loadgen("--target", "null", "--concurrency", "8", "--max-ops", "2000",
                     "--duration", "30", "--ops", "put,get")  # fmt: skip
    assert phases["put"]["ops"] == phases["get"]["ops"] == 2000
    assert phases["put"]["errors"] == 0
