"""Gates: aggregation, labels, increase windows, holds and their reset."""

from photon_operator.model.observed import Sample
from photon_operator.model.spec import Gate
from photon_operator.reconcile import gates


def samples(**pods):
    return {
        pod: tuple(Sample("m", {"code": c}, v) for c, v in series.items())
        for pod, series in pods.items()
    }


def test_measure_aggregates_over_pods_and_filters_labels():
    data = samples(a={"200": 1, "503": 5}, b={"200": 3})
    assert gates.measure(Gate("m", "<", 0), data) == 5
    assert gates.measure(Gate("m", "<", 0, aggregation="sum", labels={"code": "200"}), data) == 4
    assert gates.measure(Gate("other", "<", 0), data) is None


def test_hold_must_elapse_and_resets_on_violation():
    gate = (Gate("m", "<=", 10, hold_seconds=30),)
    ok, bad = samples(a={"x": 1}), samples(a={"x": 99})
    state = gates.evaluate(gate, ok, now=0, since={}, baseline={})
    assert not state.passed and state.since == {"0": 0}
    state = gates.evaluate(gate, ok, now=31, since=state.since, baseline={})
    assert state.passed
    state = gates.evaluate(gate, bad, now=32, since=state.since, baseline={})
    assert not state.passed and state.since == {} and "(is 99)" in state.failing[0]


def test_missing_metric_never_passes():
    state = gates.evaluate((Gate("m", ">=", 0, hold_seconds=0),), {}, now=0, since={}, baseline={})
    assert not state.passed and "absent" in state.failing[0]


def test_increase_counts_from_the_window_start():
    gate = (Gate("m", "<=", 0, hold_seconds=10, function="increase", aggregation="sum"),)
    state = gates.evaluate(gate, samples(a={"503": 7}), now=0, since={}, baseline={})
    assert state.baseline == {"0": 7} and not state.failing
    state = gates.evaluate(
        gate, samples(a={"503": 9}), now=5, since=state.since, baseline=state.baseline
    )
    assert state.failing and state.baseline == {"0": 9}  # the window restarts
    state = gates.evaluate(
        gate, samples(a={"503": 9}), now=20, since=state.since, baseline=state.baseline
    )
    state = gates.evaluate(
        gate, samples(a={"503": 9}), now=31, since=state.since, baseline=state.baseline
    )
    assert state.passed
