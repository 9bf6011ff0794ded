"""Creating a cluster: every owned object at once, deterministic names, then Running."""

from photon_common import contract
from photon_operator.reconcile.plan import plan
from photon_operator.resources import meta

from .sim import World, body


def test_first_pass_creates_every_owned_object():
    world = World(body(data={"replicas": 3}, observer={"replicas": 1}))
    first = world.step()
    kinds = [(o["kind"], o["metadata"]["name"]) for o in first.apply]
    assert kinds == [
        ("ConfigMap", "db-config"),
        ("Service", "db-peers"),
        ("Service", "db"),
        ("StatefulSet", "db-data"),
        ("PodDisruptionBudget", "db-data"),
        ("StatefulSet", "db-observer"),
        ("StatefulSet", "db-coordinator"),
    ]
    assert [o["kind"] for o in first.create] == ["Secret"]
    assert world.status["phase"] == "Creating"
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == "u-1" for o in first.apply)


def test_secret_is_created_once_and_never_applied():
    world = World(body())
    world.step()
    assert world.step().create == ()
    assert all(o["kind"] != "Secret" for p in world.history for o in p.apply)


def test_cluster_becomes_ready_and_idle():
    world = World(body())
    world.settle()
    assert world.status["ready"] == "3/3"
    assert world.condition("Ready")["status"] == "True"
    assert world.condition("Progressing")["status"] == "False"
    assert world.status["leader"] == "db-data-0"
    assert [m["name"] for m in world.status["members"]] == [f"db-data-{i}" for i in range(3)]
    assert "PhaseChanged" in world.reasons()
    assert world.history[-1].requeue == 30.0


def test_steady_state_is_a_fixed_point():
    world = World(body())
    world.settle()
    before = world.status
    again = plan(world.observed(), secret_value="x" * 32)
    assert again.status == before
    assert again.calls == () and again.events == ()


def test_bootstrap_voters_are_fixed_at_creation():
    world = World(body(data={"replicas": 4}))
    world.settle()
    boot = world.sets["data"]["bootstrap"]
    assert boot.count("=") == 3  # an odd number of first voters
    world.set_role("data", replicas=7)
    world.settle()
    assert world.sets["data"]["bootstrap"] == boot


def test_podmonitor_only_when_enabled_and_available():
    world = World(body(monitoring={"podMonitor": {"enabled": True}}))
    observed = world.observed()
    assert plan(observed, secret_value="x" * 32).applied("PodMonitor") is None
    from dataclasses import replace

    available = replace(observed, pod_monitor_api=True)
    assert plan(available, secret_value="x" * 32).applied("PodMonitor", "db") is not None


def test_selector_and_scale_subresource_fields():
    world = World(body())
    world.settle()
    assert world.status["selector"] == meta.selector_text(world.observed().cluster, "data")
    assert world.status["replicas"] == 3
    assert world.status["currentVersion"] == contract.VERSION
