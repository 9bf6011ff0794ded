"""PhotonDB-specific e2e helpers: the operator release, PhotonCluster objects and their status,
the nodes' own endpoints (through the API server's pod proxy, so they work on any cluster), an
in-cluster client pod that writes through the client Service while the cluster changes shape,
and a monitor thread that records what happened when.

Nothing here sleeps to synchronise: every wait is a poll with a deadline (helpers.wait_until).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import (
    REPO,
    Images,
    Kubectl,
    KubectlError,
    fixture_text,
    wait_until,
)

API = "photondb.io/v1alpha1"
KIND = "photoncluster"
CLIENT_PORT = 7700
OPERATOR_NAMESPACE = os.environ.get("E2E_OPERATOR_NAMESPACE", "photondb-system")
OPERATOR_RELEASE = os.environ.get("E2E_OPERATOR_RELEASE", "photon-operator")
CHART = REPO / "charts" / "photon-operator"
SCRIPTS = Path(__file__).resolve().parent / "pod_scripts"
CLIENT_POD = "e2e-client"


# ------------------------------------------------------------------ the operator


def split_image(ref: str) -> tuple[str, str]:
    repository, _, tag = ref.rpartition(":")
    if not repository or "/" in tag:
        return ref, "latest"
    return repository, tag


def helm(kube: Kubectl, *args: str, timeout: float = 360) -> str:
    """helm next to kubectl (the cached bin dir), else helm on PATH."""
    beside = Path(kube.binary).with_name("helm")
    binary = str(beside) if beside.is_file() else "helm"
    env = dict(os.environ)
    if kube.kubeconfig:
        env["KUBECONFIG"] = kube.kubeconfig
    proc = subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} -> exit {proc.returncode}: {proc.stderr}")
    return proc.stdout


def install_operator(kube: Kubectl, images: Images) -> None:
    """`helm upgrade --install` of the chart with the image under test; waits for it."""
    repository, tag = split_image(images.operator)
    node_repository, _ = split_image(images.node)
    helm(
        kube,
        "upgrade",
        "--install",
        OPERATOR_RELEASE,
        str(CHART),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--create-namespace",
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        "--set",
        "image.pullPolicy=IfNotPresent",
        "--set",
        f"nodeImageRepository={node_repository}",
        "--set",
        "logging.format=text",
        "--wait",
        "--timeout",
        "5m",
    )


def operator_logs(kube: Kubectl, tail: int = 60) -> str:
    return kube.run(
        "-n",
        OPERATOR_NAMESPACE,
        "logs",
        f"deploy/{OPERATOR_RELEASE}",
        f"--tail={tail}",
        check=False,
    ).stdout


# ------------------------------------------------------------------ PhotonClusters


def raw(kube: Kubectl, path: str, timeout: float = 20) -> str:
    """GET an API-server path (pod and service proxies included)."""
    return kube.out("get", "--raw", path, timeout=timeout)


def parse_metrics(text: str) -> dict[str, Any]:
    """Prometheus text -> {family name: family}; raises on anything the parser rejects."""
    return {family.name: family for family in text_string_to_metric_families(text)}


class Stuck(AssertionError):
    """The cluster reached a state that will not change by itself."""


@dataclass
class Cluster:
    """One PhotonCluster in a test namespace."""

    ns: Kubectl
    name: str

    @property
    def namespace(self) -> str:
        assert self.ns.namespace
        return self.ns.namespace

    def obj(self) -> dict[str, Any]:
        found = self.ns.get(KIND, self.name)
        assert found is not None, f"photoncluster/{self.name} does not exist"
        return found

    def status(self) -> dict[str, Any]:
        return self.obj().get("status") or {}

    def pod_name(self, ordinal: int, role: str = "data") -> str:
        return f"{self.name}-{role}-{ordinal}"

    def pods(self, role: str = "data") -> list[dict[str, Any]]:
        items = self.ns.json(
            "get", "pods", "-l", f"photondb.io/cluster={self.name},photondb.io/role={role}"
        )["items"]
        return sorted(items, key=lambda p: p["metadata"]["name"])

    def node(self, pod: str, path: str, timeout: float = 15) -> str:
        """A node endpoint through the API server's pod proxy (works on any cluster)."""
        return raw(
            self.ns,
            f"/api/v1/namespaces/{self.namespace}/pods/{pod}:{CLIENT_PORT}/proxy{path}",
            timeout,
        )

    def node_status(self, pod: str) -> dict[str, Any]:
        return json.loads(self.node(pod, "/cluster/status"))

    def describe(self) -> str:
        parts = [
            self.ns.run("get", "photon,sts,pods,pvc", "-o", "wide", check=False).stdout,
            json.dumps(self.status(), indent=1)[-3000:],
            self.ns.run("get", "events", "--sort-by=.lastTimestamp", check=False)
            .stdout.splitlines()[-20:]
            .__str__(),
            "operator log:\n" + operator_logs(self.ns, 40),
        ]
        return "\n".join(parts)

    def wait_running(
        self, replicas: int, timeout: float = 240, fail_phases: tuple[str, ...] = ("Paused",)
    ) -> dict[str, Any]:
        """Phase Running, Ready=True, replicas/replicas ready, status of the current generation,
        every data member ready and agreeing on a leader. Returns the status. Fails at once on
        a phase in `fail_phases` (a paused rollout waits for a spec change: no use waiting)."""

        def ok() -> dict[str, Any] | None:
            obj = self.obj()
            status = obj.get("status") or {}
            current = status.get("observedGeneration") == obj["metadata"]["generation"]
            if current and status.get("phase") in fail_phases:
                raise Stuck(
                    f"photoncluster/{self.name} is {status['phase']}: {status.get('message')}"
                )
            conditions = {c["type"]: c for c in status.get("conditions", [])}
            members = status.get("members", [])
            good = (
                status.get("observedGeneration") == obj["metadata"]["generation"]
                and status.get("phase") == "Running"
                and conditions.get("Ready", {}).get("status") == "True"
                and status.get("ready") == f"{replicas}/{replicas}"
                and len(members) == replicas
                and all(m.get("ready") for m in members)
                and status.get("leader")
                and not status.get("operation")
            )
            return status if good else None

        return wait_until(
            ok, timeout, f"photoncluster/{self.name} Running {replicas}/{replicas}",
            diagnose=self.describe, fatal=(Stuck,),
        )  # fmt: skip

    def raft_view(self) -> dict[str, Any]:
        """The leader's /cluster/status (asked of the pod that the others name as leader)."""
        leader = self.status().get("leader")
        for pod in [leader] + [p["metadata"]["name"] for p in self.pods()]:
            if not pod:
                continue
            try:
                answer = self.node_status(pod)
            except KubectlError:
                continue
            if answer.get("raft", {}).get("role") == "leader":
                return answer
        raise AssertionError("no node reports itself leader")


def create_cluster(ns: Kubectl, relative: str, images: Images, **subs: str) -> Cluster:
    text = fixture_text(relative, PHOTON_NODE_IMAGE=images.node, **subs)
    ns.apply(text)
    docs = [d for d in text.split("\n---") if "kind: PhotonCluster" in d]
    name = next(
        line.split(":", 1)[1].strip()
        for line in docs[0].splitlines()
        if line.strip().startswith("name:")
    )
    return Cluster(ns, name)


# ------------------------------------------------------------------ in-cluster client


def start_client_pod(ns: Kubectl, images: Images) -> None:
    ns.apply(fixture_text("client/client-pod.yaml", PHOTON_NODE_IMAGE=images.node))
    ns.run("wait", "--for=condition=Ready", f"pod/{CLIENT_POD}", "--timeout=120s", timeout=150)


def client_exec(ns: Kubectl, script: str, *args: str, timeout: float = 120) -> str:
    """Run tests/e2e/pod_scripts/SCRIPT in the client pod; returns its stdout."""
    proc = ns.run(
        "exec",
        "-i",
        CLIENT_POD,
        "--",
        "python3",
        "-",
        *args,
        input=(SCRIPTS / script).read_text(),
        timeout=timeout,
    )
    return proc.stdout


def service_url(cluster: Cluster) -> str:
    return f"http://{cluster.name}.{cluster.namespace}.svc:{CLIENT_PORT}"


def read_all(cluster: Cluster, prefix: str) -> dict[str, str]:
    """Every key under `prefix`, read through the client Service (paged scans)."""
    return json.loads(client_exec(cluster.ns, "scan.py", service_url(cluster), prefix))


@dataclass
class WriterResult:
    attempts: int
    acked: list[int]
    failures: dict[str, int]
    uncertain: list[int]
    seconds: float

    def summary(self) -> str:
        rate = self.attempts / self.seconds if self.seconds else 0.0
        return (
            f"{self.attempts} writes in {self.seconds:.0f}s ({rate:.1f}/s), "
            f"{len(self.acked)} acknowledged, failed: {self.failures or 'none'}"
        )


class Writer:
    """Sequential PUTs of PREFIX<i> = v<i> through the client Service from the client pod, until
    stopped (bounded by max_seconds). Keeps a progress file the test can poll."""

    def __init__(self, cluster: Cluster, prefix: str, max_seconds: int = 900) -> None:
        self.cluster, self.prefix = cluster, prefix
        self.stop_file = f"/tmp/{prefix}stop"
        self.progress_file = f"/tmp/{prefix}progress"
        script = (SCRIPTS / "writer.py").read_text()
        args = [service_url(cluster), prefix, str(max_seconds), self.stop_file]
        cmd = cluster.ns._cmd(["exec", "-i", CLIENT_POD, "--", "python3", "-", *args])
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(script)
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it again

    def progress(self) -> dict[str, int]:
        out = self.cluster.ns.out("exec", CLIENT_POD, "--", "cat", self.progress_file, timeout=20)
        return json.loads(out)

    def wait_acked(self, more_than: int, timeout: float = 60) -> int:
        """Until more than `more_than` writes are acknowledged; returns the count."""
        return wait_until(
            lambda: (n := self.progress()["acked"]) > more_than and n,
            timeout,
            f"writer {self.prefix}: more than {more_than} acknowledged writes",
            diagnose=self.cluster.describe,
        )

    def stop(self) -> WriterResult:
        self.cluster.ns.run("exec", CLIENT_POD, "--", "touch", self.stop_file, timeout=30)
        out, err = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0:
            raise RuntimeError(f"writer failed ({self.proc.returncode}): {err}")
        data = json.loads(out)
        return WriterResult(
            data["attempts"], data["acked"], data["failures"], data["uncertain"], data["seconds"]
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        if self.proc.returncode is None or (self.proc.stdout and not self.proc.stdout.closed):
            self.proc.communicate(timeout=10)  # reaps it and closes its pipes


def check_no_lost_writes(cluster: Cluster, result: WriterResult, prefix: str) -> dict[str, str]:
    """Every acknowledged write is readable with its value; nothing unattempted appeared."""
    stored = read_all(cluster, prefix)
    lost = [i for i in result.acked if stored.get(f"{prefix}{i:06d}") != f"v{i}"]
    assert not lost, (
        f"{len(lost)} acknowledged writes lost or wrong, e.g. {lost[:10]} "
        f"({result.summary()}; stored {len(stored)})"
    )
    extra = [k for k in stored if int(k[len(prefix) :]) >= result.attempts]
    assert not extra, f"keys that were never written: {extra[:10]}"
    return stored


# ------------------------------------------------------------------ monitor


@dataclass
class Sample:
    t: float
    pods: dict[str, dict[str, Any]]  # name -> {uid, deleting, ready, image, restarts}
    leader: str | None
    voters: list[str] | None
    learners: list[str] | None
    phase: str | None
    operation: dict[str, Any] | None
    status_leader: str | None


@dataclass
class Monitor:
    """Samples pods, the Raft configuration (from a node's own /cluster/status) and the
    PhotonCluster status every `interval` seconds in a thread, for asserting on ordering."""

    cluster: Cluster
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _raft(self, names: list[str], hint: str | None) -> dict[str, Any]:
        order = ([hint] if hint in names else []) + [n for n in names if n != hint]
        for pod in order:
            try:
                answer = self.cluster.node_status(pod)
            except Exception:
                continue
            raft = answer.get("raft") or {}
            if raft.get("role") == "leader":
                return raft
            if raft.get("leader") in names and raft.get("leader") != pod:
                try:
                    leader = self.cluster.node_status(raft["leader"]).get("raft") or {}
                except Exception:
                    continue
                if leader.get("role") == "leader":
                    return leader
        return {}

    def _run(self) -> None:
        last_leader: str | None = None
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                obj = self.cluster.obj()
                status = obj.get("status") or {}
                pods = {}
                for p in self.cluster.pods():
                    c = (p.get("status", {}).get("containerStatuses") or [{}])[0]
                    pods[p["metadata"]["name"]] = {
                        "uid": p["metadata"]["uid"],
                        "deleting": bool(p["metadata"].get("deletionTimestamp")),
                        "ready": any(
                            x["type"] == "Ready" and x["status"] == "True"
                            for x in p.get("status", {}).get("conditions", [])
                        ),
                        "image": p["spec"]["containers"][0]["image"],
                        "restarts": c.get("restartCount", 0),
                    }
                raft = self._raft([n for n, p in pods.items() if not p["deleting"]], last_leader)
                last_leader = raft.get("leader") or last_leader
                self.samples.append(
                    Sample(
                        t,
                        pods,
                        raft.get("leader") if raft else None,
                        raft.get("voters") if raft else None,
                        raft.get("learners") if raft else None,
                        status.get("phase"),
                        status.get("operation"),
                        status.get("leader"),
                    )
                )
            except Exception:
                self.errors += 1
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def phases(self) -> list[str]:
        out: list[str] = []
        for s in self.samples:
            if s.phase and (not out or out[-1] != s.phase):
                out.append(s.phase)
        return out

    def first(self, predicate: Callable[[Sample], bool]) -> Sample | None:
        return next((s for s in self.samples if predicate(s)), None)


# ------------------------------------------------------------------ killing a node process


def host_kill_node_process(cluster: Cluster, pod: str) -> int | None:
    """SIGKILL the photon-node process of `pod` from the host, when the cluster runs on this
    machine (hack/localk8s, as root). Returns the pid, or None when not possible here."""
    if os.geteuid() != 0:
        return None
    uid = cluster.ns.json("get", "pod", pod)["metadata"]["uid"]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if not any(part.endswith(b"photon-node") for part in cmdline[:2]):
                continue
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        if uid.replace("-", "_") in cgroup or uid in cgroup:
            os.kill(int(entry.name), signal.SIGKILL)
            return int(entry.name)
    return None
