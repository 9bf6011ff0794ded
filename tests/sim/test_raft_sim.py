"""Thousands of seeded random schedules of the Raft core: crashes, restarts, partitions, loss,
duplication, reordering, membership changes, leadership transfers and snapshots.

Checked: at most one leader per term, every node applies the same entry at every index (which
implies no acknowledged write is lost or changed), the cluster converges once faults stop, and
the recorded client history is linearizable. Reproduce a failure with RAFT_SIM_SEED=<seed>;
RAFT_SIM_SEEDS sets how many schedules run (default 2000).
"""

from __future__ import annotations

import os

import pytest

from tests.sim.raft_sim import Simulation
from tests.sim.scenario import leader, run

SEEDS = int(os.environ.get("RAFT_SIM_SEEDS", "2000"))
ONLY = os.environ.get("RAFT_SIM_SEED")
BATCH = 100


def check_converged(sim: Simulation) -> None:
    node = leader(sim)
    assert node is not None, f"seed {sim.seed}: no leader after the quiet period"
    members = node.core.log.config.members
    applied = {n.id: n.applied for n in sim.nodes.values() if n.id in members}
    assert len(set(applied.values())) == 1, f"seed {sim.seed}: members diverge {applied}"
    assert node.applied >= node.core.log.committed, f"seed {sim.seed}: leader did not apply"


def check_history(sim: Simulation) -> None:
    from tests.sim.history import check_linearizable

    check_linearizable(sim)


def seeds() -> list[range]:
    if ONLY is not None:
        return [range(int(ONLY), int(ONLY) + 1)]
    return [range(start, min(start + BATCH, SEEDS)) for start in range(0, SEEDS, BATCH)]


@pytest.mark.parametrize("batch", seeds(), ids=lambda r: f"seeds{r.start}-{r.stop - 1}")
def test_random_schedules_are_safe_and_converge(batch):
    for seed in batch:
        sim = run(seed)  # raises SafetyViolation (with the seed) on a broken invariant
        check_converged(sim)
        check_history(sim)


def test_a_seed_replays_exactly():
    first, second = run(1234), run(1234)
    assert [(o.kind, o.key, o.status, o.revision) for o in first.ops] == [
        (o.kind, o.key, o.status, o.revision) for o in second.ops
    ]
    assert first.applied_log == second.applied_log


def test_schedules_exercise_the_hard_parts():
    """The generator must actually produce snapshots, membership changes and leader changes."""
    snapshots = config_changes = leader_terms = 0
    for seed in range(40):
        sim = run(seed)
        snapshots += sum(n.disk.snapshot.index > 0 for n in sim.nodes.values())
        config_changes += sum(1 for term, data in sim.applied_log.values() if data.startswith(b"{"))
        leader_terms += len(sim.leaders)
    assert snapshots > 40 and config_changes > 20 and leader_terms > 80
