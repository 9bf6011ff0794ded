"""Feeds a simulation's client history to the linearizability checker."""

from __future__ import annotations

from tests.sim.raft_sim import OpRecord, Simulation
from tests.support import linearizability as lin


def to_op(record: OpRecord) -> lin.Op:
    ok = record.status == "ok"
    if record.kind == "get":
        value = record.read_value if ok else None
    else:
        value = record.value if record.kind == "put" else None
    return lin.Op(
        client=record.client,
        kind=record.kind,  # type: ignore[arg-type]
        key=record.key,
        invoke=record.invoke,
        complete=record.complete if record.status != "unknown" else None,
        outcome=record.status,  # type: ignore[arg-type]
        value=value,
        revision=record.revision if ok else None,
        if_revision=record.if_revision,
        create_only=record.create_only,
    )


def check_linearizable(sim: Simulation) -> None:
    history = [to_op(r) for r in sim.ops if r.status != "failed"]
    result = lin.check(history, time_budget=5.0)
    assert result.verdict != "violation", f"seed {sim.seed}: not linearizable:\n{result}"
