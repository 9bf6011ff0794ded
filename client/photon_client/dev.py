"""`photonctl dev up|down|status`: a local cluster of real photon-node processes on loopback.

`up --nodes N` starts N data nodes bootstrapped together (client ports BASE, BASE+10, ...; peer
ports one above each), detached from the terminal, with data, logs and a generated cluster
secret under one directory (default ./.photon/dev), and waits until every node is ready.
`down` stops them with SIGTERM (SIGKILL after a deadline); `--purge` also deletes the data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

STATE_FILE = "cluster.json"
READY_TIMEOUT = 60.0


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health/ready", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def up(root: Path, nodes: int, base_port: int, extra: list[str]) -> int:
    state_path = root / STATE_FILE
    if state_path.exists() and any(_alive(n["pid"]) for n in _load(root)["nodes"]):
        print(f"photonctl: a dev cluster is already running from {root}; `photonctl dev down`")
        return 1
    root.mkdir(parents=True, exist_ok=True)
    secret_file = root / "cluster-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(32))
        secret_file.chmod(0o600)
    ids = [f"n{i}" for i in range(1, nodes + 1)]
    ports = {node_id: base_port + 10 * i for i, node_id in enumerate(ids)}
    initial = ",".join(f"{i}=127.0.0.1:{ports[i] + 1}" for i in ids)
    started = []
    for node_id in ids:
        port = ports[node_id]
        args = [
            sys.executable, "-m", "photon_node",
            "--node-id", node_id,
            "--data-dir", str(root / node_id),
            "--listen", f"127.0.0.1:{port}",
            "--peer-listen", f"127.0.0.1:{port + 1}",
            "--cluster-secret-file", str(secret_file),
            "--initial-cluster", initial,
            *extra,
        ]  # fmt: skip
        with open(root / f"{node_id}.log", "ab") as log:
            proc = subprocess.Popen(
                args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        started.append({"id": node_id, "pid": proc.pid, "url": f"http://127.0.0.1:{port}"})
    state_path.write_text(json.dumps({"nodes": started}, indent=2))
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if all(_ready(n["url"]) for n in started):
            print(f"PhotonDB dev cluster of {nodes} nodes is ready (data and logs in {root}):")
            for node in started:
                print(f"  {node['id']}  {node['url']}  pid {node['pid']}")
            endpoints = ",".join(n["url"] for n in started)
            print(f"try: photonctl --endpoint {started[0]['url']} put hello world")
            print(f"endpoints: {endpoints}")
            return 0
        if not any(_alive(n["pid"]) for n in started):
            break
        time.sleep(0.2)
    print(f"photonctl: the cluster did not become ready; see the logs in {root}", file=sys.stderr)
    return 1


def _load(root: Path) -> dict:
    return json.loads((root / STATE_FILE).read_text())


def down(root: Path, purge: bool, timeout: float = 30.0) -> int:
    if not (root / STATE_FILE).exists():
        print(f"photonctl: no dev cluster in {root}")
        return 0
    nodes = _load(root)["nodes"]
    for node in nodes:
        if _alive(node["pid"]):
            os.kill(node["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(n["pid"]) for n in nodes):
        time.sleep(0.1)
    for node in nodes:
        if _alive(node["pid"]):
            os.kill(node["pid"], signal.SIGKILL)
    (root / STATE_FILE).unlink()
    if purge:
        shutil.rmtree(root)
    print(f"stopped {len(nodes)} nodes" + (f" and removed {root}" if purge else ""))
    return 0


def status(root: Path) -> int:
    if not (root / STATE_FILE).exists():
        print(f"no dev cluster in {root}")
        return 1
    for node in _load(root)["nodes"]:
        state = "ready" if _ready(node["url"]) else ("running" if _alive(node["pid"]) else "down")
        print(f"{node['id']}  {node['url']}  pid {node['pid']}  {state}")
    return 0
