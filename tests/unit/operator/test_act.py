"""The act phase and one whole reconcile pass, against fakes of our own wrappers."""

from photon_operator.model.settings import Settings
from photon_operator.reconcile.act import merge_patch
from photon_operator.reconcile.reconciler import Reconciler

from .fakes import FakeApi, FakeNodes
from .sim import body

SETTINGS = Settings.from_env({})


def test_merge_patch_is_minimal_and_removes_keys():
    old = {"a": 1, "op": {"victim": "x", "target": 3}, "list": [1]}
    new = {"a": 1, "op": {"target": 2}, "list": [1], "b": 2}
    assert merge_patch(old, new) == {"op": {"victim": None, "target": 2}, "b": 2}
    assert merge_patch(new, new) is None
    assert merge_patch({"op": {"x": 1}}, {}) == {"op": None}


def world(**spec):
    cluster = body(**spec)
    cluster["metadata"]["namespace"] = "ns"
    return FakeApi({("PhotonCluster", "db"): cluster})


async def test_first_pass_creates_objects_and_writes_status():
    api = world()
    reconciler = Reconciler(api, FakeNodes(), SETTINGS, clock=lambda: 1000.0)
    delay = await reconciler.reconcile("ns", "db")
    assert delay == SETTINGS.active_seconds  # Creating: come back soon
    assert api.log[0] == ("create", "Secret", "db-secret")
    kinds = [k for verb, k, _ in api.log if verb == "apply"]
    assert kinds[:3] == ["ConfigMap", "Service", "Service"] and "StatefulSet" in kinds
    assert api.objects[("PhotonCluster", "db")]["status"]["phase"] == "Creating"
    assert any(k == "Event" for _, k, _ in api.log)


async def test_unchanged_status_is_not_written_again():
    api = world()
    reconciler = Reconciler(api, FakeNodes(), SETTINGS, clock=lambda: 1000.0)
    await reconciler.reconcile("ns", "db")
    await reconciler.reconcile("ns", "db")  # now the StatefulSets exist
    written = len(api.status_patches)
    await reconciler.reconcile("ns", "db")
    assert len(api.status_patches) == written


async def test_secret_is_never_overwritten():
    api = world()
    api.objects[("Secret", "db-secret")] = {"data": {"cluster-secret": "b2xk"}}
    await Reconciler(api, FakeNodes(), SETTINGS).reconcile("ns", "db")
    assert api.objects[("Secret", "db-secret")] == {"data": {"cluster-secret": "b2xk"}}
    assert ("create", "Secret", "db-secret") not in api.log


async def test_invalid_spec_is_reported_not_raised():
    api = world(config={"join": "x:1"})
    delay = await Reconciler(api, FakeNodes(), SETTINGS).reconcile("ns", "db")
    status = api.objects[("PhotonCluster", "db")]["status"]
    assert status["phase"] == "Invalid" and "join" in status["message"]
    assert delay == SETTINGS.resync_seconds


async def test_deleted_object_stops_the_loop():
    assert await Reconciler(FakeApi(), FakeNodes(), SETTINGS).reconcile("ns", "db") is None


async def test_drain_refusal_is_recorded_in_status():
    api = world(data={"replicas": 2})
    nodes = FakeNodes()
    nodes.refuse = "draining would break quorum"
    cluster = api.objects[("PhotonCluster", "db")]
    cluster["status"] = {
        "operation": {"type": "ScaleIn", "role": "data", "source": 3, "target": 2,
                      "started": "2026-01-01T00:00:00Z"},
    }  # fmt: skip
    api.objects[("StatefulSet", "db-data")] = {
        "metadata": {"annotations": {}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"env": []}]}}},
    }
    await Reconciler(api, nodes, SETTINGS, clock=lambda: 1_767_225_700.0).reconcile("ns", "db")
    assert nodes.calls == [("drain", "db-data-2")]
    operation = api.objects[("PhotonCluster", "db")]["status"]["operation"]
    assert operation["victim"] == "db-data-2"
    assert "quorum" in operation["refusal"]
    assert api.objects[("StatefulSet", "db-data")]["spec"]["replicas"] == 3
