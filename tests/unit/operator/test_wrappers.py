"""The two wrappers against a real HTTP server on loopback (aiohttp), and kubeconfig parsing."""

import json

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from photon_common import contract
from photon_operator.k8s import config as k8s_config
from photon_operator.k8s.client import Api, ApiError
from photon_operator.nodeapi import client as nodeapi


async def serve(routes):
    app = web.Application()
    seen = []

    async def handler(request):
        body = await request.text()
        seen.append((request.method, request.path_qs, request.headers.get("Content-Type"), body))
        status, answer = routes.get((request.method, request.path), (404, {"message": "nope"}))
        return web.json_response(answer, status=status)

    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app)
    await server.start_server()
    return server, seen


async def test_api_apply_create_get_and_errors():
    sts = "/apis/apps/v1/namespaces/ns/statefulsets"
    server, seen = await serve({
        ("PATCH", f"{sts}/db-data"): (200, {"kind": "StatefulSet"}),
        ("POST", "/api/v1/namespaces/ns/secrets"): (409, {"message": "exists"}),
        ("PATCH", "/apis/photondb.io/v1alpha1/namespaces/ns/photonclusters/db/status"): (200, {}),
        ("GET", "/apis/monitoring.coreos.com/v1"): (200, {"resources": [{"name": "podmonitors"}]}),
    })  # fmt: skip
    connection = k8s_config.Connection(str(server.make_url("")).rstrip("/"), False, token="t")
    async with ClientSession() as session:
        api = Api(connection, session)
        obj = {"kind": "StatefulSet", "metadata": {"name": "db-data", "namespace": "ns"}}
        await api.apply(obj)
        assert await api.create({"kind": "Secret", "metadata": {"namespace": "ns"}}) is False
        assert await api.get("ConfigMap", "ns", "x") is None
        await api.patch_status(contract.KIND_CLUSTER, "ns", "db", {"status": {"a": 1}})
        assert await api.has_api("monitoring.coreos.com/v1", "podmonitors")
        await api.delete("Pod", "ns", "gone")  # 404 is fine
        try:
            await api.request("GET", "/boom")
        except ApiError as error:
            assert error.status == 404
    await server.close()
    method, path, ctype, text = seen[0]
    assert (method, ctype) == ("PATCH", "application/apply-patch+yaml")
    assert "fieldManager=photon-operator" in path and "force=true" in path
    assert json.loads(text) == obj
    assert seen[3][2] == "application/merge-patch+json"


def test_kubeconfig_with_token(tmp_path):
    config = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "x"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://h:6443/"}}],
        "users": [{"name": "u", "user": {"token": "abc"}}],
    }  # fmt: skip
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    connection = k8s_config.from_kubeconfig(config, tmp_path / "config")
    assert connection.server == "https://h:6443" and connection.namespace == "x"
    assert connection.headers() == {"Authorization": "Bearer abc"}


METRICS = """# HELP photon_node_ready ready
# TYPE photon_node_ready gauge
photon_node_ready 1.0
# TYPE photon_kv_requests_total counter
photon_kv_requests_total{op="put",code="200"} 7.0
"""


async def test_node_api_calls_and_metrics():
    sent = []

    async def send(method, ns, pod, ip, rest):
        sent.append((method, rest))
        if rest == contract.METRICS_PATH:
            return 200, METRICS
        if rest == contract.ADMIN_DRAIN and method == "POST":
            return 409, json.dumps({"error": {"code": "conflict", "message": "would break quorum"}})
        return 202, json.dumps({"ok": True})

    nodes = nodeapi.NodeApi(send)
    samples = await nodes.metrics("ns", "p", "10.0.0.1")
    assert {(s.name, s.value) for s in samples} >= {
        ("photon_node_ready", 1.0),
        ("photon_kv_requests_total", 7.0),
    }
    try:
        await nodes.drain("ns", "p", "ip")
    except nodeapi.NodeError as error:
        assert error.status == 409 and "quorum" in str(error)
    await nodes.transfer_leadership("ns", "p", "ip", "q")
    assert sent[-1] == ("POST", f"{contract.ADMIN_TRANSFER_LEADERSHIP}?to=q")


async def test_direct_transport_reports_unreachable_nodes():
    async with ClientSession() as session:
        send = nodeapi.direct(session, timeout=0.5)
        try:
            await send("GET", "ns", "p", None, "/x")
        except nodeapi.NodeError as error:
            assert error.status == 0
