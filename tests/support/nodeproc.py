"""Real `photon-node` processes on loopback, with their logs kept for failing tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.poll import wait_until

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free for TCP and for UDP: a node's peer port carries both (Raft over
    TCP, gossip over UDP), and a port the kernel hands out for TCP may be taken for UDP.
    Never one this process handed out before: the probe socket is closed at once, so the
    kernel may offer the same port again before its taker binds it (a node once got the same
    port for its client and its peer listener)."""
    for _ in range(100):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            if port in _HANDED_OUT:
                continue
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no loopback port free for both TCP and UDP")


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@dataclass
class NodeProcess:
    data_dir: Path
    node_id: str = "n1"
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        return [
            sys.executable, "-m", "photon_node",
            "--node-id", self.node_id,
            "--data-dir", str(self.data_dir),
            "--listen", f"127.0.0.1:{self.port}",
            "--peer-listen", f"127.0.0.1:{self.peer_port}",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> NodeProcess:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.node_id}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PHOTON_")}
        environ.update(self.env)
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=log, env=environ)
        log.close()
        return self

    def wait_ready(self, timeout: float = 30.0) -> NodeProcess:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            return http_status(self.url + "/health/ready", timeout=1.0) == 200

        wait_until(ready, timeout, what=f"{self.node_id} ready")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise

    def restart(self) -> NodeProcess:
        self.stop()
        return self.start().wait_ready()
