"""Rolling upgrades: partition held, one pod at a time, leader last, gates, pause, rollback."""

import itertools

from photon_operator.reconcile import actions

from .sim import World, body

GATE = {"metric": "lag", "comparison": "<=", "threshold": 10, "holdSeconds": 10}


def upgraded_world(**upgrade) -> World:
    world = World(body(upgrade=upgrade))
    world.settle()
    return world


def data_partitions(world: World) -> list[int]:
    return [
        p.applied("StatefulSet", "db-data")["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
        for p in world.history
    ]


def test_version_change_rolls_one_pod_at_a_time_from_the_top():
    world = upgraded_world()
    world.edit(version="0.2.0")
    start = len(world.history)
    unready_max = 0
    for _ in range(30):
        world.step()
        unready_max = max(unready_max, 3 - len(world.ready()))
        if world.status["phase"] == "Running":
            break
    assert unready_max == 1
    partitions = data_partitions(world)[start:]
    assert partitions[0] == 2 and partitions[-1] == 0
    assert all(a >= b for a, b in itertools.pairwise(partitions))
    assert world.status["currentVersion"] == "0.2.0"
    assert {p.version for p in world.pods.values()} == {"0.2.0"}
    assert "RolloutCompleted" in world.reasons()


def test_leader_is_moved_before_its_pod_restarts_and_updated_last():
    world = upgraded_world()
    world.leader = "db-data-2"
    world.edit(version="0.2.0")
    first = world.step()
    assert first.calls == (actions.NodeCall(actions.TRANSFER, "db-data-2", "db-data-0"),)
    assert data_partitions(world)[-1] == 3  # nothing restarted yet
    world.settle()
    transfers = [c for c in world.calls if c.kind == actions.TRANSFER]
    last = transfers[-1]  # pod 0 is restarted last, handing leadership to an updated pod
    assert last.pod == "db-data-0" and last.to in ("db-data-1", "db-data-2")


def test_gates_hold_before_the_next_pod():
    world = upgraded_world(gates=[GATE])
    world.metrics = {"lag": 0}
    world.edit(version="0.2.0")
    world.run(3)
    assert world.operation()["step"] == "Gating"
    assert data_partitions(world)[-1] == 2
    world.settle()
    assert world.status["currentVersion"] == "0.2.0"


def test_failing_gate_pauses_with_degraded_and_an_event():
    world = upgraded_world(gates=[GATE], gateTimeoutSeconds=20)
    world.metrics = {"lag": 500}
    world.edit(version="0.2.0")
    world.run(10)
    assert world.operation()["step"] == "Paused"
    assert world.status["phase"] == "Paused"
    assert world.condition("Degraded")["reason"] == "GateFailed"
    assert "(is 500)" in world.condition("Degraded")["message"]
    assert "RolloutPaused" in world.reasons()
    held = data_partitions(world)[-1]
    world.run(5)
    assert data_partitions(world)[-1] == held  # stays put
    world.metrics = {"lag": 0}
    world.edit(upgrade={"gates": [GATE], "gateTimeoutSeconds": 20})  # any spec change resumes
    world.settle()
    assert world.status["currentVersion"] == "0.2.0"
    assert "RolloutResumed" in world.reasons()


def test_failing_gate_rolls_back_when_asked():
    world = upgraded_world(gates=[GATE], gateTimeoutSeconds=20, onGateFailure="Rollback")
    world.metrics = {"lag": 500}
    world.edit(version="0.2.0")
    for _ in range(40):
        world.step()
        if world.status.get("blocked"):
            break
    assert "RollbackStarted" in world.reasons() and "RollbackCompleted" in world.reasons()
    assert {p.version for p in world.pods.values()} == {"0.1.0"}
    assert world.status["blocked"]["reason"] == "RolledBack"
    world.run(5)
    assert world.operation() is None  # no retry until the spec changes
    assert world.status["targetVersion"] == "0.2.0"


def test_crash_looping_pod_fails_the_step():
    world = upgraded_world()
    world.broken_version = "0.2.0"
    world.edit(version="0.2.0")
    world.run(4)
    assert world.operation()["step"] == "Paused"
    assert world.condition("Degraded")["reason"] == "CrashLoop"


def test_spec_upgrade_paused_holds_the_partition():
    world = upgraded_world()
    world.edit(version="0.2.0")
    world.step()
    world.step()
    world.edit(upgrade={"paused": True})
    world.run(5)
    assert world.condition("Upgrading")["reason"] == "Paused"
    assert len({*data_partitions(world)[-5:]}) == 1
    world.edit(upgrade={"paused": False})
    world.settle()
    assert world.status["currentVersion"] == "0.2.0"


def test_unsupported_skew_is_refused_and_nothing_restarts():
    world = upgraded_world()
    world.edit(version="2.0.0")
    result = world.step()
    assert world.operation() is None
    assert world.status["blocked"]["reason"] == "VersionSkew"
    assert world.condition("Degraded")["reason"] == "VersionSkew"
    assert (
        result.applied("StatefulSet", "db-data")["metadata"]["annotations"]["photondb.io/version"]
        == "0.1.0"
    )
    assert "VersionSkewRefused" in world.reasons()


def test_config_change_rolls_without_a_version_change():
    world = upgraded_world()
    world.edit(config={"max_value_bytes": 2048})
    world.step()
    assert world.operation()["type"] == "Rollout"
    world.settle()
    assert "RolloutCompleted" in world.reasons()


def test_roles_roll_observers_first_and_data_last():
    world = World(body(observer={"replicas": 1}))
    world.settle()
    world.edit(version="0.2.0")
    world.step()
    assert world.operation()["roles"] == ["observer", "data"]
    world.settle()
    assert {p.version for p in world.pods.values()} == {"0.2.0"}


def test_a_broken_voter_blocks_the_rollout_only_without_a_spare_majority():
    world = upgraded_world()
    world.pods["db-data-0"].ready = False
    world.pods["db-data-0"].crash = True
    world.edit(version="0.2.0")
    world.run(3)
    assert data_partitions(world)[-1] == 3
    assert "no ready majority" in world.status["message"]

    five = World(body(data={"replicas": 5}, config={"max_voters": 5}))
    five.settle()
    five.voters = [f"db-data-{i}" for i in range(5)]
    five.leader = "db-data-1"
    five.pods["db-data-0"].ready = False
    five.pods["db-data-0"].crash = True
    five.edit(version="0.2.0")
    five.run(3)
    assert data_partitions(five)[-1] < 5
