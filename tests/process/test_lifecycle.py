"""Process lifecycle: graceful SIGTERM, restart recovery, configuration errors, data dirs."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.support.nodeproc import http_status
from tests.support.poll import wait_until

pytestmark = pytest.mark.process


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return False
    except OSError:
        return True


def call(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def put(url, key, value: bytes) -> int:
    status, body = call(f"{url}/kv/{key}", "PUT", value)
    assert status == 200, body
    return json.loads(body)["revision"]


def get(url, key) -> bytes:
    status, body = call(f"{url}/kv/{key}")
    assert status == 200, body
    return body


def test_sigterm_finishes_in_flight_request_then_exits_zero(node):
    body = b"b" * 1000
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    sock.sendall(
        b"PUT /kv/inflight HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + body[:500]
    )
    time.sleep(0.2)  # let the server parse the headers and start the handler (not a sync point)
    started = time.monotonic()
    node.signal(signal.SIGTERM)
    wait_until(lambda: refused(node.port), 10, what="listener closed after SIGTERM")
    assert node.proc.poll() is None, "the node exited with a request in flight"
    sock.sendall(body[500:])
    response = sock.recv(4096)
    sock.close()
    assert response.startswith(b"HTTP/1.1 200"), response
    assert node.wait(30) == 0
    assert time.monotonic() - started < 25
    assert "stopped" in node.log()
    node.start().wait_ready()
    assert get(node.url, "inflight") == body


def test_restart_recovers_everything(node):
    revisions = {f"r{i}": put(node.url, f"r{i}", f"value-{i}".encode()) for i in range(200)}
    assert node.stop() == 0
    node.start().wait_ready()
    for key in revisions:
        assert get(node.url, key) == f"value-{key[1:]}".encode()
    assert put(node.url, "after", b"x") == max(revisions.values()) + 1


def run_node(args, env=None, timeout=30) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PHOTON_")}
    environ.update(env or {})
    return subprocess.run(  # noqa: PLW1510 - the caller asserts the exit code
        [sys.executable, "-m", "photon_node", *args],
        capture_output=True, text=True, timeout=timeout, env=environ,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--listen", "localhost"], {}, "option 'listen' (from flag --listen)"),
        ([], {"PHOTON_MAX_VALUE_BYTES": "huge"}, "option 'max_value_bytes' (from environment"),
        (["--node-id", ""], {}, "option 'node_id'"),
        (["--config", "/nonexistent/photon.yaml"], {}, "option 'config'"),
    ],
)
def test_invalid_configuration_stops_at_once(args, env, needle):
    started = time.monotonic()
    result = run_node(args, env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert time.monotonic() - started < 10


def test_configuration_layers_reach_the_running_node(node_factory, tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text("max_value_bytes: 50\nmin_protocol_version: 2\n")
    node = node_factory(
        "layered", extra_args=["--config", str(config)], env={"PHOTON_MAX_VALUE_BYTES": "10"}
    )
    status, _ = call(f"{node.url}/kv/k", "PUT", b"x" * 11)
    assert status == 413  # env (10) beats file (50)
    assert put(node.url, "k", b"x" * 10) >= 1
    status, body = call(node.url + "/cluster/status")
    assert json.loads(body)["min_protocol_version"] == 2  # from the file


def test_newer_data_format_is_refused(node):
    node.stop()
    fmt = node.data_dir / "FORMAT"
    meta = json.loads(fmt.read_text())
    meta["format"] = 42
    fmt.write_text(json.dumps(meta))
    result = run_node(node.args()[3:])
    assert result.returncode == 3
    assert "data format 42" in result.stderr and "downgrading" in result.stderr


def test_another_nodes_data_is_refused(node):
    node.stop()
    args = node.args()[3:]
    args[args.index("--node-id") + 1] = "intruder"
    result = run_node(args)
    assert result.returncode == 3
    assert "belongs to node 'n1'" in result.stderr


def test_damaged_wal_is_refused(node):
    for i in range(500):
        put(node.url, f"w{i}", os.urandom(500))
    node.kill9()  # everything is still in the WAL
    wal = max(glob.glob(str(node.data_dir / "db" / "*.log")), key=os.path.getsize)
    with open(wal, "r+b") as handle:
        handle.seek(os.path.getsize(wal) // 2)
        handle.write(b"\xde\xad\xbe\xef" * 16)
    result = run_node(node.args()[3:])
    assert result.returncode == 3
    assert "damaged" in result.stderr


def test_damaged_table_files_are_detected_never_served(node, tmp_path):
    """Damage each table file in turn: the node refuses to start (exit 3, saying why) or
    answers 500 storage_corrupted and turns unready; it never serves wrong bytes."""
    values = {f"s{i:04d}": os.urandom(300) for i in range(1500)}
    for key, value in values.items():
        put(node.url, key, value)
    assert node.stop() == 0  # flushes memtables into SST files
    pristine = tmp_path / "pristine"
    shutil.copytree(node.data_dir, pristine)
    tables = sorted(p.name for p in (pristine / "db").glob("*.sst") if p.stat().st_size > 50_000)
    assert tables, "expected table files after a clean stop"
    outcomes = set()
    for table in tables:
        shutil.rmtree(node.data_dir)
        shutil.copytree(pristine, node.data_dir)
        path = node.data_dir / "db" / table
        with open(path, "r+b") as handle:
            handle.seek(path.stat().st_size // 2)
            handle.write(b"\xde\xad\xbe\xef" * 16)
        node.start()
        wait_until(
            lambda: (
                node.proc.poll() is not None or http_status(node.url + "/health/startup") == 200
            ),
            30,
            what="refusal or startup",
        )
        if node.proc.poll() is not None:
            assert node.proc.returncode == 3
            assert "damaged" in node.log() or "cannot be read" in node.log()
            outcomes.add("refused")
            continue
        corrupted = 0
        for key, value in values.items():
            status, body = call(f"{node.url}/kv/{key}")
            if status == 200:
                assert body == value, f"{key} served garbage"
            else:
                assert status == 500, body
                assert json.loads(body)["error"]["code"] == "storage_corrupted"
                corrupted += 1
        assert corrupted > 0, f"damage in {table} went unnoticed"
        assert http_status(node.url + "/health/ready") == 503
        outcomes.add("detected")
        node.stop()
    assert outcomes
