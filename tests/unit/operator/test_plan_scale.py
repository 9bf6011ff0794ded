"""Scale-out waits for members; scale-in drains one node at a time and never shrinks first."""

from photon_operator.reconcile import actions

from .sim import World, body


def ready_world(replicas: int = 3, **spec) -> World:
    world = World(body(data={"replicas": replicas}, **spec))
    world.settle()
    return world


def test_scale_out_raises_replicas_and_waits_for_membership():
    world = ready_world()
    world.set_role("data", replicas=5)
    first = world.step()
    assert first.applied("StatefulSet", "db-data")["spec"]["replicas"] == 5
    assert world.operation()["type"] == "ScaleOut"
    assert world.condition("Scaling")["reason"] == "ScalingOut"
    assert "0/2 new data nodes joined" in world.condition("Scaling")["message"]
    world.settle()
    assert world.ready() == [f"db-data-{i}" for i in range(5)]
    assert "ScaleOutCompleted" in world.reasons()


def test_scale_in_drains_one_node_at_a_time_highest_first():
    world = ready_world(5)
    world.set_role("data", replicas=3)
    replicas_seen = []
    for _ in range(8):
        result = world.step()
        replicas_seen.append(result.applied("StatefulSet", "db-data")["spec"]["replicas"])
        drains = [c for c in result.calls if c.kind == actions.DRAIN]
        assert len(drains) <= 1
    drained = [c.pod for c in world.calls if c.kind == actions.DRAIN]
    assert drained == ["db-data-4", "db-data-3"]
    assert replicas_seen[0] == 5  # the drain pass never shrinks
    assert world.sets["data"]["replicas"] == 3
    assert world.operation() is None
    assert world.reasons().count("NodeRemoved") == 2


def test_never_shrinks_before_the_node_confirms():
    world = ready_world(4)
    world.refuse_drain = "draining would break quorum: 2 of 3 voters left"
    world.set_role("data", replicas=3)
    for _ in range(6):
        assert world.step().applied("StatefulSet", "db-data")["spec"]["replicas"] == 4
    assert world.operation()["victim"] == "db-data-3"


def test_scale_in_refused_while_a_data_node_is_not_ready():
    world = ready_world(3)
    world.pods["db-data-1"].ready = False
    world.pods["db-data-1"].crash = True
    world.set_role("data", replicas=2)
    result = world.step()
    assert world.operation() is None
    assert result.calls == ()
    assert world.condition("Scaling")["reason"] == "ScaleInRefused"
    assert "db-data-1" in world.condition("Scaling")["message"]
    assert "ScaleInRefused" in world.reasons()


def test_scale_in_refuses_victims_that_are_not_the_highest_ordinals():
    world = ready_world(3)
    world.body["metadata"]["annotations"] = {"photondb.io/scale-in-victims": "db-data-0"}
    world.set_role("data", replicas=2)
    world.step()
    assert world.operation() is None
    assert "highest ordinals" in world.condition("Scaling")["message"]


def test_raising_replicas_again_cancels_the_drain():
    world = ready_world(4)
    world.refuse_drain = "busy"  # keeps the drain from finishing
    world.set_role("data", replicas=3)
    world.step()
    world.refuse_drain = None
    world.pods["db-data-3"].draining = True
    world.set_role("data", replicas=4)
    result = world.step()
    assert actions.NodeCall(actions.CANCEL_DRAIN, "db-data-3") in result.calls
    assert result.applied("StatefulSet", "db-data")["spec"]["replicas"] == 4
    assert world.operation() is None
    assert "ScaleInCancelled" in world.reasons()


def test_partial_raise_keeps_the_nodes_already_removed():
    world = ready_world(5)
    world.set_role("data", replicas=2)
    world.run(2)  # db-data-4 drained and removed
    world.set_role("data", replicas=4)
    world.settle()
    assert world.sets["data"]["replicas"] == 4


def test_scale_out_cancels_a_stale_drain_from_a_retained_volume():
    world = ready_world(3)
    world.set_role("data", replicas=4)
    world.step()
    world.step()
    world.pods["db-data-3"].drained = True  # its old volume still said "drained"
    result = world.step()
    assert actions.NodeCall(actions.CANCEL_DRAIN, "db-data-3") in result.calls


def test_observers_scale_in_through_the_same_drain():
    world = ready_world(3, observer={"replicas": 2})
    world.set_role("observer", replicas=1)
    world.settle()
    assert [c.pod for c in world.calls if c.kind == actions.DRAIN] == ["db-observer-1"]


def test_lowering_replicas_during_a_stuck_scale_out_removes_the_broken_pod():
    world = ready_world(3)
    world.broken_version = "0.1.0"  # new pods crash-loop
    world.set_role("data", replicas=4)
    world.run(3)
    assert world.operation()["type"] == "ScaleOut"
    world.broken_version = None
    world.set_role("data", replicas=3)
    world.settle()
    assert "ScaleOutSuperseded" in world.reasons()
    assert world.sets["data"]["replicas"] == 3 and "db-data-3" not in world.pods


def test_crash_looping_pod_surfaces_as_degraded():
    world = ready_world(3)
    world.pods["db-data-1"].ready = False
    world.pods["db-data-1"].crash = True
    world.step()
    degraded = world.condition("Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "CrashLoop"
    assert "db-data-1" in degraded["message"]
    assert world.status["phase"] == "Degraded"
    assert world.history[-1].requeue == 5.0  # not ready: look again soon
