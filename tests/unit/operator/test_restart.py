"""An operator restart mid-operation resumes from status: the state is the object, not memory."""

import copy

from photon_operator.reconcile import actions

from .sim import World, body


def restarted(world: World) -> World:
    """A new operator process: the same API objects, no in-memory state at all."""
    return World(
        body=copy.deepcopy(world.body),
        now=world.now + 60,
        status=copy.deepcopy(world.status),
        sets=copy.deepcopy(world.sets),
        pods=copy.deepcopy(world.pods),
        voters=list(world.voters),
        learners=list(world.learners),
        leader=world.leader,
        secret=True,
    )


def test_scale_in_resumes_with_the_same_victim():
    world = World(body(data={"replicas": 5}))
    world.settle()
    world.set_role("data", replicas=3)
    world.step()
    assert world.operation()["victim"] == "db-data-4"
    world = restarted(world)
    world.settle()
    drains = [c.pod for c in world.calls if c.kind == actions.DRAIN]
    assert drains == ["db-data-3"]  # db-data-4 was confirmed, not drained twice
    assert world.sets["data"]["replicas"] == 3


def test_rollout_resumes_at_the_held_partition():
    world = World(body())
    world.settle()
    world.edit(version="0.2.0")
    world.run(3)
    partition = world.operation()["partition"]
    assert partition < 3
    world = restarted(world)
    first = world.step()
    held = first.applied("StatefulSet", "db-data")["spec"]["updateStrategy"]["rollingUpdate"]
    assert held["partition"] <= partition
    world.settle()
    assert world.status["currentVersion"] == "0.2.0"


def test_paused_rollout_stays_paused_after_restart():
    gate = {"metric": "lag", "comparison": "<=", "threshold": 1, "holdSeconds": 1}
    world = World(body(upgrade={"gates": [gate], "gateTimeoutSeconds": 5}))
    world.settle()
    world.metrics = {"lag": 9}
    world.edit(version="0.2.0")
    world.run(6)
    assert world.operation()["step"] == "Paused"
    world = restarted(world)
    world.metrics = {"lag": 9}
    world.run(3)
    assert world.operation()["step"] == "Paused"


def test_lost_status_is_rebuilt_from_the_statefulsets():
    world = World(body())
    world.settle()
    world.status = {}
    result = world.step()
    assert result.create == ()  # the secret exists already
    assert world.status["currentVersion"] == "0.1.0"
    assert world.operation() is None
