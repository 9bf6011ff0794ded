"""Multi-process PhotonDB clusters on loopback for tests: real photon-node processes, real
sockets, a shared cluster secret."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.link import Link
from tests.support.nodeproc import NodeProcess, free_port
from tests.support.poll import wait_until

SECRET = "photon-test-secret-0123456789abcdef"
FAST_RAFT = ["--raft-tick-ms", "50", "--election-ticks", "10"]


def get_json(url: str, timeout: float = 3.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def metric(url: str, series: str, timeout: float = 5.0) -> float | None:
    """The value of one series (name with its labels, as exported) in a node's /_metrics, or
    None when it is not exported."""
    with urllib.request.urlopen(f"{url}/_metrics", timeout=timeout) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


@dataclass
class Cluster:
    root: Path
    nodes: dict[str, NodeProcess] = field(default_factory=dict)
    secret: str = SECRET
    links: dict[str, Link] = field(default_factory=dict)  # node id -> the link peers reach it by

    def add(self, node_id: str, extra: list[str] | None = None, secret: str | None = None,
            env: dict[str, str] | None = None) -> NodeProcess:  # fmt: skip
        node = NodeProcess(
            data_dir=self.root / node_id / "data",
            node_id=node_id,
            extra_args=[*FAST_RAFT, *(extra or [])],
            env={"PHOTON_CLUSTER_SECRET": secret or self.secret, **(env or {})},
            peer_port=free_port(),
        )
        self.nodes[node_id] = node
        return node

    def bootstrap(
        self,
        count: int,
        extra: list[str] | None = None,
        linked: tuple[str, ...] = (),
        per_node: dict[str, list[str]] | None = None,
        late: tuple[str, ...] = (),
    ) -> Cluster:
        """Start `count` nodes n1..nN together. The other nodes reach each node in `linked`
        through a Link (see link.py) that the test can cut; `per_node` adds flags to one node;
        the nodes in `late` are set up but left for the test to start."""
        ids = [f"n{i}" for i in range(1, count + 1)]
        ports = {node_id: free_port() for node_id in ids}
        self.links.update({node_id: Link(ports[node_id]) for node_id in linked})
        for node_id in ids:
            seen = {
                i: self.links[i].port if i in self.links and i != node_id else ports[i] for i in ids
            }
            initial = ",".join(f"{i}=127.0.0.1:{port}" for i, port in seen.items())
            flags = [*(extra or []), *((per_node or {}).get(node_id, []))]
            node = self.add(node_id, ["--initial-cluster", initial, *flags])
            node.peer_port = ports[node_id]
        starting = [node for node_id, node in self.nodes.items() if node_id not in late]
        for node in starting:
            node.start()
        for node in starting:
            node.wait_ready(60)
        return self

    def join(self, node_id: str, extra: list[str] | None = None, secret: str | None = None,
             ready: bool = True) -> NodeProcess:  # fmt: skip
        seeds = [f"127.0.0.1:{n.peer_port}" for n in self.nodes.values() if self.alive(n)]
        node = self.add(node_id, [*(f"--join={s}" for s in seeds), *(extra or [])], secret)
        node.start()
        return node.wait_ready(60) if ready else node

    @staticmethod
    def alive(node: NodeProcess) -> bool:
        return node.proc is not None and node.proc.poll() is None

    def status(self, node: NodeProcess) -> dict:
        return get_json(node.url + "/cluster/status")

    def leader(self, timeout: float = 30.0, exclude: tuple[str, ...] = ()) -> NodeProcess:
        def find():
            for node_id, node in self.nodes.items():
                if node_id in exclude or not self.alive(node):
                    continue
                try:
                    raft = self.status(node)["raft"]
                except (OSError, urllib.error.URLError, ValueError):
                    continue
                if raft and raft["role"] == "leader":
                    return node
            return None

        return wait_until(find, timeout, interval=0.1, what="a leader")

    def make_leader(self, target: str, timeout: float = 30.0) -> None:
        """Ask the leader to hand leadership to `target` until `target` leads."""

        def moved() -> bool:
            leader = self.leader()
            if leader.node_id == target:
                return True
            request = urllib.request.Request(
                f"{leader.url}/admin/transfer-leadership?to={target}", method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10):
                    pass
            except urllib.error.HTTPError as error:  # e.g. 409 while a transfer is under way
                error.close()
            return False

        wait_until(moved, timeout, interval=0.5, what=f"{target} leads")

    def stop_all(self) -> None:
        for node in self.nodes.values():
            if self.alive(node):
                node.stop()
