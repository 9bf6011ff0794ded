"""Probes and metrics of a real node: transitions, and Prometheus text parsed by
prometheus-client."""

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.nodeproc import http_status
from tests.support.poll import await_until

pytestmark = pytest.mark.process


async def scrape(http, node) -> dict:
    async with http.get(node.url + "/_metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families, name, **labels) -> float:
    family_name = name
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        family_name = family_name.removesuffix(suffix)
    for s in families[family_name].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


async def test_probe_bodies_list_checks(node, http):
    for path, names in [
        ("/health/live", ["event_loop", "raft_loop"]),
        ("/health/startup", ["storage_open", "recovery"]),
        (
            "/health/ready",
            ["storage_open", "recovery", "storage", "leader", "not_draining", "not_stopping"],
        ),
    ]:
        async with http.get(node.url + path) as r:
            assert r.status == 200
            body = await r.text()
        assert body.splitlines() == [f"[+]{name} ok" for name in names]


def test_startup_goes_from_unavailable_to_ready(node_factory):
    """Observed from the very first moment: never ready before started, live once listening."""
    node = node_factory(ready=False)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            seen.append(http_status(node.url + "/health/startup", timeout=1))
        except OSError:
            seen.append("refused")
        if seen[-1] == 200:
            break
        time.sleep(0.01)
    assert seen[-1] == 200, seen
    assert set(seen) <= {"refused", 503, 200}
    assert http_status(node.url + "/health/live") == 200
    assert http_status(node.url + "/health/ready") == 200


async def test_readiness_needs_a_leader_liveness_does_not(node_factory, http):
    """A member of a two-voter cluster whose peer never starts: alive, started, never ready."""
    node = node_factory(
        extra_args=["--initial-cluster", "n1=127.0.0.1:1,n9=127.0.0.1:2"],
        env={"PHOTON_CLUSTER_SECRET": "s" * 32},
        ready=False,
    )

    async def started():
        async with http.get(node.url + "/health/startup") as r:
            return r.status == 200

    await await_until(started, 30, what="startup probe")
    async with http.get(node.url + "/health/ready") as r:
        assert r.status == 503
        assert "[-]leader failed: no leader known" in await r.text()
    async with http.get(node.url + "/health/live") as r:
        assert r.status == 200  # liveness never depends on other nodes
    families = await scrape(http, node)
    assert sample(families, "photon_node_ready") == 0
    assert sample(families, "photon_raft_is_leader") == 0


async def test_metrics_catalogue_and_counters(node, http):
    before = await scrape(http, node)
    for i in range(5):
        await http.put(f"{node.url}/kv/m{i}", data=b"x" * 100)
    await http.get(f"{node.url}/kv/m1")
    await http.get(f"{node.url}/kv/absent")
    await http.put(f"{node.url}/kv/m1", data=b"y", headers={"If-Match": "999"})
    after = await scrape(http, node)

    assert after["photon_build_info"].type == "gauge"
    info = after["photon_build_info"].samples[0]
    assert info.labels["version"] and info.labels["protocol"] == "2" and info.value == 1
    assert after["photon_kv_requests"].type == "counter"
    assert after["photon_kv_request_duration_seconds"].type == "histogram"
    for name in ("photon_storage_size_bytes", "photon_node_draining", "process_cpu_seconds",
                 "process_resident_memory_bytes", "photon_commit_batch_size"):  # fmt: skip
        assert name in after, name
    assert sample(after, "photon_storage_size_bytes") > 0

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("photon_kv_requests_total", op="put", code="200") == 5
    assert delta("photon_kv_requests_total", op="put", code="412") == 1
    assert delta("photon_kv_requests_total", op="get", code="200") == 1
    assert delta("photon_kv_requests_total", op="get", code="404") == 1
    assert delta("photon_kv_request_duration_seconds_count", op="put") == 6
    assert sample(after, "photon_storage_revision") == 5
    # six proposals (one refused at apply time) went through fsync'd group commits (the
    # leader's first entry may be among them: readiness does not wait for its fsync)
    batches = delta("photon_commit_batch_size_count")
    assert 1 <= batches <= delta("photon_commit_batch_size_sum") <= 7
    assert delta("photon_commit_batch_size_sum") >= 6
    assert delta("photon_commit_duration_seconds_count") >= batches
