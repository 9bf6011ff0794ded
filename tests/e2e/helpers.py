"""Helpers for the end-to-end tests: kubectl with JSON output, polling with deadlines, and ways
to talk to Services (a kubectl port-forward to 127.0.0.1, or a request made from a pod).

Everything goes through the `kubectl` binary (no Kubernetes client library), so the tests run
against whatever cluster KUBECONFIG points at: the local one from hack/localk8s, kind, k3d, or
a cloud cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOCAL_RUN = Path(os.environ.get("LOCALK8S_RUN", "/var/tmp/photondb-localk8s"))


class E2ETimeout(AssertionError):
    """A condition was not met before its deadline."""


class KubectlError(RuntimeError):
    def __init__(self, args: list[str], proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.stderr = proc.stderr.strip()
        super().__init__(f"kubectl {' '.join(args)} -> exit {proc.returncode}: {self.stderr}")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 1.0,
    diagnose: Callable[[], str] | None = None,
    fatal: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `condition` until it returns something truthy; raise E2ETimeout at the deadline.

    Exceptions from `condition` count as "not yet" (the last one is reported), except those in
    `fatal`, which fail at once. `diagnose` is called once on timeout or a fatal error and its
    text (pod descriptions, events) goes into the error.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
            if value:
                return value
            last = value
        except fatal as error:
            detail = diagnose() if diagnose is not None else ""
            raise E2ETimeout(f"{what}: {error}\n{detail}") from error
        except Exception as error:
            last = error
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    detail = ""
    if diagnose is not None:
        try:
            detail = "\n" + diagnose()
        except Exception as error:
            detail = f"\n(diagnosis failed: {error!r})"
    raise E2ETimeout(f"{what}: not met within {timeout:.0f}s (last: {last!r}){detail}")


def find_kubectl() -> str | None:
    """$KUBECTL, then kubectl on PATH, then the one hack/localk8s/build.sh cached."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    on_path = shutil.which("kubectl")
    if on_path:
        return on_path
    bin_file = LOCAL_RUN / "bin"
    if bin_file.is_file():
        candidate = Path(bin_file.read_text().strip()) / "kubectl"
        if candidate.is_file():
            return str(candidate)
    cache = Path(os.environ.get("PHOTON_CACHE", Path.home() / ".cache" / "photondb"))
    found = sorted(cache.glob("localk8s/v*/bin/kubectl"))
    return str(found[-1]) if found else None


def find_kubeconfig() -> str | None:
    """$KUBECONFIG if set, else the local cluster's admin kubeconfig if it exists."""
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    local = LOCAL_RUN / "admin.kubeconfig"
    return str(local) if local.is_file() else None


@dataclass
class Kubectl:
    binary: str
    kubeconfig: str | None
    namespace: str | None = None
    timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)

    def _cmd(self, args: list[str]) -> list[str]:
        cmd = [self.binary]
        if self.kubeconfig:
            cmd.append(f"--kubeconfig={self.kubeconfig}")
        if self.namespace and not any(a in ("-n", "--namespace", "-A") for a in args):
            cmd.append(f"--namespace={self.namespace}")
        return cmd + args

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        arglist = list(args)
        proc = subprocess.run(
            self._cmd(arglist),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout or self.timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise KubectlError(arglist, proc)
        return proc

    def out(self, *args: str, **kwargs: Any) -> str:
        return self.run(*args, **kwargs).stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.out(*args, "-o", "json", **kwargs))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object as a dict, or None if it does not exist."""
        proc = self.run("get", kind, name, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise KubectlError(["get", kind, name], proc)
        return json.loads(proc.stdout)

    def apply(self, manifest: str) -> str:
        return self.out("apply", "-f", "-", input=manifest)

    def in_namespace(self, namespace: str) -> Kubectl:
        return Kubectl(self.binary, self.kubeconfig, namespace, self.timeout, dict(self.env))

    def describe(self, *what: str) -> str:
        """Best-effort diagnostics for error messages: describe + recent events."""
        parts = [self.run("describe", *what, check=False).stdout[-4000:]]
        events = self.run("get", "events", "--sort-by=.lastTimestamp", check=False).stdout
        parts.append("events:\n" + "\n".join(events.splitlines()[-15:]))
        return "\n".join(parts)

    def wait_ready(self, kind: str, name: str, timeout: float = 180.0) -> dict[str, Any]:
        """Wait for the object's Ready condition to be True; returns the object."""

        def ready() -> dict[str, Any] | None:
            obj = self.get(kind, name)
            conditions = (obj or {}).get("status", {}).get("conditions", [])
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                return obj
            return None

        return wait_until(
            ready, timeout, f"{kind}/{name} Ready", diagnose=lambda: self.describe(kind, name)
        )


def http(
    method: str, url: str, data: bytes | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One HTTP request with urllib; returns (status, body) also for 4xx/5xx answers."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextlib.contextmanager
def port_forward(kubectl: Kubectl, target: str, remote_port: int) -> Iterator[str]:
    """`kubectl port-forward TARGET :PORT` on 127.0.0.1; yields the base URL http://127.0.0.1:N.

    TARGET is e.g. "svc/my-service" or "pod/my-pod". Works on any cluster (the traffic goes
    through the API server to the kubelet); the process is stopped on exit.
    """
    cmd = kubectl._cmd(["port-forward", "--address", "127.0.0.1", target, f":{remote_port}"])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:41234 -> 7700"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not match:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"port-forward {target} failed: {line.strip()} {err.strip()}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=10)  # also closes the pipes
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


def pod_http(
    kubectl: Kubectl, pod: str, method: str, url: str, data: bytes = b"", container: str = ""
) -> tuple[int, bytes]:
    """An HTTP request made from inside `pod` (which must have python3), e.g. to a Service by
    its cluster DNS name. Returns (status, body)."""
    script = (
        "import sys,urllib.request as u,urllib.error as e\n"
        "m,url=sys.argv[1],sys.argv[2]; d=sys.stdin.buffer.read() or None\n"
        "try:\n r=u.urlopen(u.Request(url,data=d,method=m),timeout=10); s,b=r.status,r.read()\n"
        "except e.HTTPError as x: s,b=x.code,x.read()\n"
        "sys.stdout.write(str(s)+'\\n'); sys.stdout.flush(); sys.stdout.buffer.write(b)\n"
    )
    args = ["exec", "-i", pod]
    if container:
        args += ["-c", container]
    args += ["--", "python3", "-c", script, method, url]
    proc = subprocess.run(
        kubectl._cmd(args), input=data, capture_output=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"request from pod {pod} failed: {proc.stderr.decode(errors='replace')}")
    status, _, body = proc.stdout.partition(b"\n")
    return int(status), body


def fixture_text(relative: str, **substitutions: str) -> str:
    """A manifest from tests/e2e/fixtures with PLACEHOLDER words replaced."""
    text = (FIXTURES / relative).read_text()
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


@dataclass(frozen=True)
class Images:
    """The image references under test (see conftest: E2E_NODE_IMAGE, E2E_OPERATOR_IMAGE)."""

    node: str
    operator: str


def project_version() -> str:
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]
