"""Create: a 3-node PhotonCluster becomes Running/Ready through the kubelet's real probes; its
status and `kubectl get photon` columns tell the truth (members as the nodes themselves report
them); data written through the client Service is readable from every pod; every pod's
/_metrics parses with prometheus_client's parser."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.helpers import Images, Kubectl
from tests.e2e.photon import (
    Cluster,
    client_exec,
    create_cluster,
    parse_metrics,
    service_url,
    start_client_pod,
)

REPLICAS = 3


@pytest.fixture(scope="module")
def cluster(module_namespace: Kubectl, operator: Kubectl, images: Images) -> Cluster:
    t0 = time.monotonic()
    c = create_cluster(module_namespace, "create/cluster.yaml", images)
    start_client_pod(module_namespace, images)
    c.wait_running(REPLICAS, timeout=240)
    print(f"\ncreate: Running {REPLICAS}/{REPLICAS} after {time.monotonic() - t0:.0f}s")
    return c


def test_ready_through_real_probes(cluster: Cluster) -> None:
    pods = cluster.pods()
    assert [p["metadata"]["name"] for p in pods] == [cluster.pod_name(i) for i in range(REPLICAS)]
    for pod in pods:
        container = pod["spec"]["containers"][0]
        for probe, path in (
            ("startupProbe", "/health/startup"),
            ("readinessProbe", "/health/ready"),
            ("livenessProbe", "/health/live"),
        ):
            assert container[probe]["httpGet"]["path"] == path, (probe, container[probe])
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conditions["Ready"] == "True", (pod["metadata"]["name"], conditions)
        state = pod["status"]["containerStatuses"][0]
        assert state["started"] and state["ready"], state
        # what the probe saw: the node's own readiness endpoint answers 200 with every check +
        body = cluster.node(pod["metadata"]["name"], "/health/ready")
        assert "[-]" not in body and "[+]" in body, body


def test_status_members_match_the_nodes(cluster: Cluster) -> None:
    status = cluster.status()
    assert status["phase"] == "Running"
    assert status["ready"] == f"{REPLICAS}/{REPLICAS}"
    assert status["replicas"] == REPLICAS
    assert status["currentVersion"] == status["targetVersion"] == "0.1.0"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    for kind in ("Degraded", "Progressing", "Upgrading", "Scaling"):
        assert conditions[kind]["status"] == "False", conditions[kind]
    members = {m["name"]: m for m in status["members"]}
    assert sorted(members) == [cluster.pod_name(i) for i in range(REPLICAS)]
    views = {name: cluster.node_status(name) for name in members}
    leaders = {v["raft"]["leader"] for v in views.values()}
    assert leaders == {status["leader"]}, (leaders, status["leader"])
    for name, view in views.items():
        m = members[name]
        assert view["id"] == name
        assert m["role"] == view["role"] == "data"
        assert m["version"] == view["version"]
        assert m["ready"] is True and view["ready"] is True
        assert m["draining"] is False
        # raftRole may change between the operator's pass and now only through an election
        if view["raft"]["term"] == views[status["leader"]]["raft"]["term"]:
            assert m["raftRole"] == view["raft"]["role"], (name, m, view["raft"])
    leader_view = views[status["leader"]]
    assert sorted(leader_view["raft"]["voters"]) == sorted(members)
    assert status["effectiveProtocol"] == leader_view["effective_protocol_version"]


def test_printer_columns(cluster: Cluster) -> None:
    out = cluster.ns.out("get", "photon", cluster.name, "-o", "wide")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "VERSION", "PHASE", "LEADER", "MESSAGE", "AGE"]
    status = cluster.status()
    cells = row.split()
    assert cells[:5] == [
        cluster.name,
        status["ready"],
        status["currentVersion"],
        status["phase"],
        status["leader"],
    ], out
    assert status["message"] in row, out
    # and the scale subresource reads the same numbers
    scale = cluster.ns.json("get", "--subresource=scale", "photon", cluster.name)
    assert scale["spec"]["replicas"] == scale["status"]["replicas"] == REPLICAS
    assert (
        scale["status"]["selector"] == f"photondb.io/cluster={cluster.name},photondb.io/role=data"
    )


def test_write_through_service_read_from_every_pod(cluster: Cluster) -> None:
    base = service_url(cluster)
    script = (
        "import sys,urllib.request as u\n"
        "for i in range(20):\n"
        "    r=u.urlopen(u.Request(f'{sys.argv[1]}/kv/create-{i}',data=f'value-{i}'.encode(),"
        "method='PUT'),timeout=10)\n"
        "    assert r.status==200, r.status\n"
        "print('ok')\n"
    )
    out = cluster.ns.out(
        "exec", "-i", "e2e-client", "--", "python3", "-", base, input=script, timeout=120
    )
    assert out.strip() == "ok", out
    for pod in cluster.pods():
        name = pod["metadata"]["name"]
        for i in range(20):
            assert cluster.node(name, f"/kv/create-{i}") == f"value-{i}", (name, i)
    # a scan through the Service sees all of them too
    stored = json.loads(client_exec(cluster.ns, "scan.py", base, "create-"))
    assert stored == {f"create-{i}": f"value-{i}" for i in range(20)}


def test_every_pod_metrics_parse(cluster: Cluster) -> None:
    for pod in cluster.pods():
        name = pod["metadata"]["name"]
        annotations = pod["metadata"]["annotations"]
        assert annotations.get("prometheus.io/scrape") == "true"
        families = parse_metrics(cluster.node(name, annotations["prometheus.io/path"]))
        for family in ("photon_build_info", "photon_node_ready", "photon_raft_is_leader"):
            assert family in families, (name, sorted(families)[:40])
        ready = [s.value for s in families["photon_node_ready"].samples]
        assert ready == [1.0], (name, ready)
        info = families["photon_build_info"].samples[0].labels
        assert info["version"] == "0.1.0", info
    leaders = sum(
        s.value
        for pod in cluster.pods()
        for s in parse_metrics(cluster.node(pod["metadata"]["name"], "/_metrics"))[
            "photon_raft_is_leader"
        ].samples
    )
    assert leaders == 1.0
