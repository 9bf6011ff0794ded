#!/usr/bin/env python3
"""Closed-loop HTTP load generator for PhotonDB and for etcd's v3 JSON gateway.

Each of `--concurrency` workers sends one request, waits for the answer, and sends the next, for
`--duration` seconds or until `--max-ops` requests were issued in the phase, whichever comes
first. Phases (`--ops put,get`) run in order: PUT writes `--value-size` byte values over a keyspace
of `--keys` keys (in sequence, wrapping around), GET reads keys chosen at random among the ones
the PUT phase wrote. `get_stale` is a GET with stale consistency (etcd: serializable range).

Requests are spread round-robin over `--endpoints`. Latency percentiles are taken over every
successful request of a phase that started after the warm-up; errors (HTTP status other than 2xx,
a wrong answer, a connection error or a timeout) are counted apart and never enter the latencies.

`--target null` measures the load generator itself: a minimal server on loopback that answers
200 at once, started by this program (in its own event loop by default, or in a child process
with `--null-server process`). Its ops/s is the ceiling of what this client can drive.

Requests go through bench/httpclient.py, a small keep-alive HTTP/1.1 client that costs a fraction
of aiohttp's per request (`--http aiohttp` uses aiohttp's client instead). Only the standard
library and aiohttp are used, so this runs anywhere aiohttp is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from httpclient import RawClient

MAX_DURATION = 3600.0
MAX_OPS_LIMIT = 100_000_000
MAX_CONCURRENCY = 4096
MAX_KEYS = 10_000_000
PHASES = ("put", "get", "get_stale")
CONSISTENCIES = ("linearizable", "stale")
ERROR_BACKOFF = 0.01  # after a connection error or a 5xx, so a failing server is not flooded


class Failure(Exception):
    """A request that did not succeed; `kind` is how it is counted."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# -- clients -----------------------------------------------------------------------------------
class AiohttpClient:
    """The same interface as httpclient.RawClient, over an aiohttp session (--http aiohttp)."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: list[str]) -> None:
        self.session = session
        self.endpoints = endpoints
        self._urls: dict[tuple[int, str], URL] = {}

    async def request(
        self, endpoint: int, method: str, path: str, body: bytes = b"",
        content_type: str | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        url = self._urls.get((endpoint, path))
        if url is None:
            url = self._urls[(endpoint, path)] = URL(self.endpoints[endpoint] + path, encoded=True)
        headers = {"Content-Type": content_type} if content_type else None
        data = body if body or method in ("PUT", "POST") else None
        async with self.session.request(method, url, data=data, headers=headers) as response:
            return response.status, await response.read()


Client = RawClient | AiohttpClient


# -- targets -----------------------------------------------------------------------------------
class Target:
    """Knows how to PUT and GET key number `index` on one endpoint."""

    name = "?"

    def __init__(self, endpoints: list[str], key_prefix: str, value: bytes) -> None:
        self.endpoints = endpoints
        self.key_prefix = key_prefix
        self.value = value

    def key(self, index: int) -> str:
        return f"{self.key_prefix}{index:08d}"

    async def setup(self, client: Client) -> None:
        return None

    async def put(self, client: Client, endpoint: int, index: int) -> None:
        raise NotImplementedError

    async def get(self, client: Client, endpoint: int, index: int, stale: bool) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return ""


class PhotonTarget(Target):
    """PUT /kv/{key} with the raw value; GET /kv/{key}[?consistency=stale] returns it raw."""

    name = "photon"

    def __init__(self, endpoints: list[str], key_prefix: str, value: bytes) -> None:
        super().__init__(endpoints, key_prefix, value)
        self._paths: dict[tuple[int, bool], str] = {}

    def _path(self, index: int, stale: bool = False) -> str:
        path = self._paths.get((index, stale))
        if path is None:
            query = "?consistency=stale" if stale else ""
            path = "/kv/" + quote(self.key(index), safe="") + query
            self._paths[(index, stale)] = path
        return path

    async def put(self, client: Client, endpoint: int, index: int) -> None:
        status, _ = await client.request(endpoint, "PUT", self._path(index), self.value)
        if status != 200:
            raise Failure(f"http_{status}")

    async def get(self, client: Client, endpoint: int, index: int, stale: bool) -> None:
        status, body = await client.request(endpoint, "GET", self._path(index, stale))
        if status != 200:
            raise Failure(f"http_{status}")
        if len(body) != len(self.value):
            raise Failure("wrong_value")


class NullTarget(PhotonTarget):
    """Photon-shaped requests to a server that answers 200 with an empty body at once."""

    name = "null"

    async def get(self, client: Client, endpoint: int, index: int, stale: bool) -> None:
        status, _ = await client.request(endpoint, "GET", self._path(index, stale))
        if status != 200:
            raise Failure(f"http_{status}")


class EtcdTarget(Target):
    """etcd v3 JSON gateway: POST {prefix}/kv/put and {prefix}/kv/range with base64 keys."""

    name = "etcd"

    def __init__(
        self, endpoints: list[str], key_prefix: str, value: bytes, api_prefix: str | None
    ) -> None:
        super().__init__(endpoints, key_prefix, value)
        self.api_prefix = api_prefix
        self.server_version = "?"
        self._value_b64 = base64.b64encode(value).decode()
        self._keys: dict[int, str] = {}

    async def setup(self, client: Client) -> None:
        # GET /version answers {"etcdserver": "3.4.23", "etcdcluster": "3.4.0"}.
        status, body = await client.request(0, "GET", "/version")
        info = json.loads(body) if status == 200 else {}
        self.server_version = str(info.get("etcdserver", "?"))
        if self.api_prefix is None:
            self.api_prefix = etcd_api_prefix(self.server_version)

    def _key_b64(self, index: int) -> str:
        key = self._keys.get(index)
        if key is None:
            key = self._keys[index] = base64.b64encode(self.key(index).encode()).decode()
        return key

    async def put(self, client: Client, endpoint: int, index: int) -> None:
        body = f'{{"key":"{self._key_b64(index)}","value":"{self._value_b64}"}}'.encode()
        path = f"{self.api_prefix}/kv/put"
        status, _ = await client.request(endpoint, "POST", path, body, "application/json")
        if status != 200:
            raise Failure(f"http_{status}")

    async def get(self, client: Client, endpoint: int, index: int, stale: bool) -> None:
        extra = ',"serializable":true' if stale else ""
        body = f'{{"key":"{self._key_b64(index)}"{extra}}}'.encode()
        path = f"{self.api_prefix}/kv/range"
        status, text = await client.request(endpoint, "POST", path, body, "application/json")
        if status != 200:
            raise Failure(f"http_{status}")
        if b'"kvs"' not in text:  # the gateway leaves out "kvs" when the key is absent
            raise Failure("not_found")

    def describe(self) -> str:
        return f"etcd {self.server_version}, API prefix {self.api_prefix}"


def etcd_api_prefix(version: str) -> str:
    """The JSON gateway's path prefix: /v3 from etcd 3.4, /v3beta in 3.3, /v3alpha before."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return "/v3"
    if (major, minor) >= (3, 4):
        return "/v3"
    return "/v3beta" if (major, minor) == (3, 3) else "/v3alpha"


# -- the null server -----------------------------------------------------------------------------
_NULL_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class _NullProtocol(asyncio.Protocol):
    """Answers every request 200 at once (bodies by Content-Length), costing next to nothing,
    so the ops/s measured against it is the client's own ceiling."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer, answers = self.buffer + data, 0
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buffer) < end + 4 + length:
                break
            buffer, answers = buffer[end + 4 + length :], answers + 1
        self.buffer = buffer
        if answers:
            self.transport.write(_NULL_ANSWER * answers)


async def start_null_inline() -> tuple[asyncio.Server, str]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_NullProtocol, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def _null_process_main(conn, lifetime: float) -> None:
    async def run() -> None:
        server, url = await start_null_inline()
        conn.send(url)
        try:
            await asyncio.sleep(lifetime)  # stops by itself even if the parent dies
        finally:
            server.close()

    _loop_runner("auto")(run())


def start_null_process(lifetime: float) -> tuple[multiprocessing.Process, str]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_null_process_main, args=(child, lifetime), daemon=True)
    process.start()
    if not parent.poll(30):
        process.terminate()
        raise SystemExit("loadgen: the null server process did not start")
    return process, parent.recv()


# -- running a phase ---------------------------------------------------------------------------
@dataclass
class PhaseResult:
    phase: str
    consistency: str | None
    ops: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None
    issued: int = 0

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        elapsed = self.elapsed or 1e-9
        return {
            "phase": self.phase,
            "consistency": self.consistency,
            "ops": self.ops,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "issued": self.issued,
            "elapsed_s": round(self.elapsed, 3),
            "ops_per_s": round(self.ops / elapsed, 1),
            "p50_ms": _ms(percentile(lat, 50)),
            "p99_ms": _ms(percentile(lat, 99)),
            "max_ms": _ms(lat[-1] if lat else None),
            "client_cpu_pct": round(100 * self.cpu_seconds / elapsed, 1),
            "client_cpu_us_per_op": _per_op(self.cpu_seconds, self.ops),
            "server_cpu_us_per_op": _per_op(self.server_cpu_seconds, self.ops),
        }


def _per_op(seconds: float | None, ops: int) -> float | None:
    return None if seconds is None or not ops else round(seconds * 1e6 / ops, 1)


def process_cpu(pids: list[int]) -> float | None:
    """User + system CPU seconds of these processes (all their threads) so far, from /proc;
    None when a process is gone or /proc is not there."""
    total = 0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil(n * pct / 100)
    return sorted_values[int(rank) - 1]


async def run_phase(
    session: Client,
    target: Target,
    phase: str,
    args: argparse.Namespace,
    written: bytearray,
) -> PhaseResult:
    stale = phase == "get_stale" or (phase == "get" and args.consistency == "stale")
    consistency = None if phase == "put" else ("stale" if stale else "linearizable")
    result = PhaseResult(phase, consistency)
    readable = [i for i in range(args.keys) if written[i]] if phase != "put" else []
    if phase != "put" and not readable:
        print(f"loadgen: no key was written, phase {phase} skipped", file=sys.stderr)
        result.errors["skipped_no_key_written"] = 1
        return result
    endpoints = len(target.endpoints)
    start = time.perf_counter()
    measure_from = start + args.warmup
    deadline = measure_from + args.duration
    counters = {"issued": 0, "next_key": 0}
    finished_at = [start]
    rng = random.Random(args.seed)

    async def worker() -> None:
        while True:
            now = time.perf_counter()
            if now >= deadline or counters["issued"] >= args.max_ops:
                finished_at.append(now)
                return
            counters["issued"] += 1
            endpoint = counters["issued"] % endpoints
            if phase == "put":
                index = counters["next_key"]
                counters["next_key"] = (index + 1) % args.keys
            else:
                index = readable[rng.randrange(len(readable))]
            began = time.perf_counter()
            try:
                if phase == "put":
                    await target.put(session, endpoint, index)
                    written[index] = 1
                else:
                    await target.get(session, endpoint, index, stale)
            except Failure as failure:
                if began >= measure_from:
                    result.errors[failure.kind] += 1
                if failure.kind.startswith("http_5"):
                    await asyncio.sleep(ERROR_BACKOFF)
                continue
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                if began >= measure_from:
                    result.errors[type(error).__name__] += 1
                await asyncio.sleep(ERROR_BACKOFF)
                continue
            if began >= measure_from:
                result.latencies.append(time.perf_counter() - began)

    cpu_mark = None
    server_mark: float | None = None

    async def cpu_marker() -> None:
        nonlocal cpu_mark, server_mark
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu_mark = time.process_time()
        server_mark = process_cpu(args.server_pids) if args.server_pids else None

    marker = asyncio.create_task(cpu_marker())
    workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    # Hard stop: a request cannot outlive its own timeout, so this bound is never reached
    # unless something hangs; then the workers are cancelled and the phase still ends.
    hard_stop = args.warmup + args.duration + args.timeout + 5
    done, pending = await asyncio.wait(workers, timeout=hard_stop)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        result.errors["cancelled_at_hard_stop"] += len(pending)
    for task in done:
        if task.exception() is not None:
            raise task.exception()
    end = max(finished_at)
    marker.cancel()
    cpu_end = time.process_time()
    server_end = process_cpu(args.server_pids) if args.server_pids else None
    if server_mark is not None and server_end is not None:
        result.server_cpu_seconds = server_end - server_mark
    result.cpu_seconds = cpu_end - (cpu_mark if cpu_mark is not None else cpu_end)
    result.elapsed = max(0.0, end - measure_from)
    result.ops = len(result.latencies)
    result.issued = counters["issued"]
    return result


async def prefill(
    session: Client, target: Target, args: argparse.Namespace, written: bytearray
) -> None:
    """Write every key once (untimed), for a run whose first read phase has no PUT before it."""
    deadline = time.perf_counter() + args.prefill_timeout
    queue = iter(range(args.keys))

    async def worker() -> None:
        for index in queue:
            if time.perf_counter() >= deadline:
                return
            try:
                await target.put(session, index % len(target.endpoints), index)
                written[index] = 1
            except (Failure, aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.sleep(ERROR_BACKOFF)

    await asyncio.gather(*(worker() for _ in range(min(args.concurrency, args.keys))))
    print(f"prefill: wrote {sum(written)} of {args.keys} keys", file=sys.stderr)


async def run(args: argparse.Namespace) -> dict:
    value = random.Random(args.seed).randbytes(args.value_size)
    null_runner = null_process = None
    endpoints = args.endpoints
    try:
        if args.target == "null":
            if args.null_server == "process":
                lifetime = len(args.ops) * (args.warmup + args.duration + args.timeout) + 60
                null_process, url = start_null_process(lifetime)
            else:
                null_runner, url = await start_null_inline()
            endpoints = [url]
        if args.target == "etcd":
            target: Target = EtcdTarget(endpoints, args.key_prefix, value, args.etcd_api_prefix)
        elif args.target == "null":
            target = NullTarget(endpoints, args.key_prefix, value)
        else:
            target = PhotonTarget(endpoints, args.key_prefix, value)

        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            raw = RawClient(endpoints, args.timeout) if args.http == "raw" else None
            session: Client = raw or AiohttpClient(http, endpoints)
            await target.setup(session)
            written = bytearray(args.keys)
            if args.target == "null":
                written = bytearray(b"\x01" * args.keys)
            phases = []
            for phase in args.ops:
                if phase != "put" and "put" not in args.ops[: len(phases)] and not any(written):
                    await prefill(session, target, args, written)
                phases.append(await run_phase(session, target, phase, args, written))
            if raw is not None:
                await raw.close()
    finally:
        if null_runner is not None:
            null_runner.close()
        if null_process is not None:
            null_process.terminate()
            null_process.join(10)

    return {
        "target": args.target,
        "target_info": target.describe(),
        "endpoints": endpoints,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "value_size": args.value_size,
        "keys": args.keys,
        "null_server": args.null_server if args.target == "null" else None,
        "http_client": args.http,
        "phases": [phase.summary() for phase in phases],
    }


# -- output ------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(report: dict) -> str:
    head = (
        f"target={report['target']} endpoints={','.join(report['endpoints'])} "
        f"concurrency={report['concurrency']} value={report['value_size']}B "
        f"keys={report['keys']} duration={report['duration_s']}s warmup={report['warmup_s']}s"
    )
    if report["target_info"]:
        head += f" ({report['target_info']})"
    if report["target"] == "null":
        head += f"\n(null server: {report['null_server']}; ops/s = this client's ceiling)"
    lines = [head]
    cols = f"{'phase':<10} {'ops':>9} {'errors':>7} {'ops/s':>10} {'p50 ms':>9} {'p99 ms':>9}"
    lines.append(cols + f" {'max ms':>9} {'client cpu':>10}")
    for p in report["phases"]:
        name = p["phase"]
        if p["phase"] == "get" and p["consistency"] == "stale":
            name = "get(stale)"
        lines.append(
            f"{name:<10} {p['ops']:>9} {p['errors']:>7} {p['ops_per_s']:>10.1f} "
            f"{_fmt(p['p50_ms']):>9} {_fmt(p['p99_ms']):>9} {_fmt(p['max_ms']):>9} "
            f"{p['client_cpu_pct']:>9.0f}%"
        )
        if p["error_kinds"]:
            kinds = ", ".join(f"{k}={v}" for k, v in sorted(p["error_kinds"].items()))
            lines.append(f"{'':<10} errors: {kinds}")
    return "\n".join(lines)


# -- arguments ---------------------------------------------------------------------------------
def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("photon", "etcd", "null"), default="photon")
    parser.add_argument("--endpoints", default="", help="URL[,URL...]; requests go round-robin")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop workers")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds per phase before measuring (not counted)")  # fmt: skip
    parser.add_argument("--max-ops", type=int, default=2_000_000,
                        help="most requests issued per phase (warm-up included)")  # fmt: skip
    parser.add_argument("--value-size", type=int, default=1024, help="bytes per value")
    parser.add_argument("--keys", type=int, default=10_000, help="keyspace size")
    parser.add_argument("--key-prefix", default="bench/k")
    parser.add_argument("--ops", default="put,get",
                        help=f"phases in order, from {', '.join(PHASES)}")  # fmt: skip
    parser.add_argument("--consistency", choices=CONSISTENCIES, default="linearizable",
                        help="for the get phase (etcd: stale = serializable)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--prefill-timeout", type=float, default=120.0)
    parser.add_argument("--etcd-api-prefix", default=None,
                        help="gateway prefix such as /v3 (default: from GET /version)")  # fmt: skip
    parser.add_argument("--null-server", choices=("inline", "process"), default="inline",
                        help="null target: client's event loop or a child process")  # fmt: skip
    parser.add_argument("--http", choices=("raw", "aiohttp"), default="raw",
                        help="HTTP client: bench/httpclient.py (raw) or aiohttp's")  # fmt: skip
    parser.add_argument("--server-pids", default="",
                        help="PID[,PID...]: their CPU per request in each window")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow endpoints that are not loopback addresses")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="client event loop: uvloop when installed (auto), or the standard one",
    )
    args = parser.parse_args(argv)

    args.ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    try:
        args.server_pids = [int(pid) for pid in args.server_pids.split(",") if pid.strip()]
    except ValueError:
        parser.error("--server-pids takes comma-separated process ids")
    args.endpoints = [e.strip().rstrip("/") for e in args.endpoints.split(",") if e.strip()]
    problems = []
    if not args.ops or any(op not in PHASES for op in args.ops):
        problems.append(f"--ops takes phases from {', '.join(PHASES)}")
    if args.target != "null" and not args.endpoints:
        problems.append("--endpoints is required")
    if not args.allow_remote and not all(_loopback(e) for e in args.endpoints):
        problems.append("an endpoint is not a loopback address (see --allow-remote)")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        problems.append(f"--concurrency must be 1..{MAX_CONCURRENCY}")
    if not 0 < args.duration <= MAX_DURATION:
        problems.append(f"--duration must be in (0, {MAX_DURATION:g}] seconds")
    if not 0 <= args.warmup <= MAX_DURATION:
        problems.append("--warmup must be 0 or more seconds")
    if not 1 <= args.max_ops <= MAX_OPS_LIMIT:
        problems.append(f"--max-ops must be 1..{MAX_OPS_LIMIT}")
    if not 1 <= args.keys <= MAX_KEYS:
        problems.append(f"--keys must be 1..{MAX_KEYS}")
    if not 0 <= args.value_size <= 64 * 1024 * 1024:
        problems.append("--value-size must be 0..64 MiB")
    if not 0 < args.timeout <= 600 or not 0 < args.prefill_timeout <= MAX_DURATION:
        problems.append("--timeout and --prefill-timeout must be positive and bounded")
    if problems:
        parser.error("; ".join(problems))
    return args


def _loop_runner(choice: str):
    """uvloop when asked for or (auto) installed: it raises the client's own ceiling, so the
    servers, not the client, are measured. The same client drives every target."""
    if choice != "asyncio":
        try:
            import uvloop

            return uvloop.run
        except ImportError:
            if choice == "uvloop":
                raise
    return asyncio.run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = _loop_runner(args.loop)(run(args))
    report["client_loop"] = (
        args.loop
        if args.loop != "auto"
        else ("uvloop" if _loop_runner("auto") is not asyncio.run else "asyncio")
    )
    print(json.dumps(report) if args.json else render(report))
    errors = sum(p["errors"] for p in report["phases"])
    ops = sum(p["ops"] for p in report["phases"])
    return 1 if ops == 0 or errors > ops else 0  # mostly failing: say so in the exit code


if __name__ == "__main__":
    sys.exit(main())
