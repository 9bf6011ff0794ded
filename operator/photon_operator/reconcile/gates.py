"""Upgrade gates: each gate must hold continuously for holdSeconds, evaluated on every pass
from the pods' /_metrics samples. A violation restarts that gate's hold (and its `increase`
baseline); the step fails only when the gates have not all held within gateTimeoutSeconds.
"""

from __future__ import annotations

import operator as op
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model.observed import Sample
from ..model.spec import Gate

_COMPARE = {"<": op.lt, "<=": op.le, ">": op.gt, ">=": op.ge, "==": op.eq, "!=": op.ne}
_AGGREGATE = {
    "max": max,
    "min": min,
    "sum": sum,
    "avg": lambda values: sum(values) / len(values),
}


def measure(gate: Gate, samples: Mapping[str, Iterable[Sample]]) -> float | None:
    """The gate's aggregated value over every pod's matching series, or None if absent."""
    values = [
        s.value
        for pod_samples in samples.values()
        for s in pod_samples
        if s.name == gate.metric and all(s.labels.get(k) == v for k, v in gate.labels.items())
    ]
    return _AGGREGATE.get(gate.aggregation, max)(values) if values else None


@dataclass(frozen=True)
class GateState:
    since: dict[str, float]  # gate index -> held since (epoch seconds)
    baseline: dict[str, float]
    failing: tuple[str, ...]  # descriptions of gates currently violated
    passed: bool


def evaluate(
    gates: tuple[Gate, ...],
    samples: Mapping[str, Iterable[Sample]],
    *,
    now: float,
    since: Mapping[str, float],
    baseline: Mapping[str, float],
) -> GateState:
    held, base, failing = dict(since), dict(baseline), []
    for index, gate in enumerate(gates):
        key = str(index)
        value = measure(gate, samples)
        if value is not None and gate.function == "increase":
            start = base.setdefault(key, value)
            value = value - start
        ok = value is not None and _COMPARE[gate.comparison](value, gate.threshold)
        if ok:
            held.setdefault(key, now)
        else:
            held.pop(key, None)
            if gate.function == "increase" and value is not None:
                base[key] = base[key] + value  # restart the window at the current count
            shown = "absent" if value is None else f"{value:g}"
            failing.append(f"{gate.describe()} (is {shown})")
    passed = not failing and all(now - held[str(i)] >= g.hold_seconds for i, g in enumerate(gates))
    return GateState(held, base, tuple(failing), passed)
