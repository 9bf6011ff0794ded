"""The linearizability checker: hand-written histories, then random ones from a sequential model."""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import random
from collections.abc import Callable

import pytest

from tests.support.linearizability import History, Op, check


def put(start, end, value, rev=None, outcome="ok", client=1, key="k", **precondition) -> Op:
    outcome = "unknown" if end is None else outcome
    return Op(client, "put", key, start, end, outcome, value, rev, **precondition)


def delete(start, end, rev=None, outcome="ok", client=1, key="k", **precondition) -> Op:
    outcome = "unknown" if end is None else outcome
    return Op(client, "delete", key, start, end, outcome, None, rev, **precondition)


def get(start, end, value=None, rev=None, client=2, key="k") -> Op:
    return Op(client, "get", key, start, end, "not_found" if value is None else "ok", value, rev)


LINEARIZABLE = {
    "sequential put, get, delete, get": [
        put(0, 1, b"a", 1),
        get(2, 3, b"a", 1),
        delete(4, 5, 2),
        get(6, 7),
    ],
    "a read overlapping a write may see the old value": [
        put(0, 1, b"a", 1),
        put(2, 5, b"b", 2),
        get(3, 4, b"a", 1),
    ],
    "a read overlapping a write may see the new value": [
        put(0, 1, b"a", 1),
        put(2, 5, b"b", 2),
        get(3, 4, b"b", 2),
    ],
    "overlapping reads may see the new value, then the old one not again": [
        put(0, 1, b"a", 1),
        put(2, 9, b"b", 2),
        get(3, 4, b"b", 2, client=2),
        get(3, 8, b"a", 1, client=3),
    ],
    "a read starting as a write ends overlaps it": [put(0, 1, b"a", 1), get(1, 2)],
    "concurrent writes take effect in revision order": [
        put(0, 5, b"b", 2, client=1),
        put(1, 4, b"a", 1, client=2),
        get(6, 7, b"b", 2),
    ],
    "one compare-and-set wins, the other fails": [
        put(0, 1, b"a", 1),
        put(2, 4, b"b", 2, if_revision=1, client=1),
        put(2, 4, b"c", outcome="precondition_failed", if_revision=1, client=3),
        get(5, 6, b"b", 2),
    ],
    "create_only, if_exists and not_found": [
        put(0, 1, b"a", outcome="precondition_failed", if_exists=True),
        delete(2, 3, outcome="not_found"),
        put(4, 5, b"a", 1, create_only=True),
        put(6, 7, b"b", outcome="precondition_failed", create_only=True),
        put(8, 9, b"c", 2, if_exists=True),
        delete(10, 11, outcome="precondition_failed", if_revision=1),
        delete(12, 13, 3, if_revision=2),
    ],
    "an unknown-outcome write that later shows up": [
        put(0, 1, b"a", 1),
        put(2, None, b"b"),
        get(3, 4, b"a", 1),
        get(10, 11, b"b", 7),
        get(12, 13, b"b", 7),
    ],
    "an unknown-outcome write that never shows up": [
        put(0, 1, b"a", 1),
        put(2, None, b"b"),
        get(10, 11, b"a", 1),
    ],
    "an unknown-outcome write that explains a failed create": [
        put(0, None, b"a"),
        put(1, 2, b"b", outcome="precondition_failed", create_only=True),
    ],
    "an unknown-outcome delete that took effect": [
        put(0, 1, b"a", 1),
        delete(2, None),
        get(3, 4),
    ],
    "a compare-and-set on a revision only an unknown write had": [
        put(0, None, b"a"),
        put(1, 2, b"b", 9, if_revision=4),
    ],
    "two unknown puts of one value, each seen at its own revision": [
        put(0, None, b"y"),
        put(3, None, b"y", create_only=True),
        get(5, 6, b"y", 1),
        put(7, 8, b"x", 2),
        get(9, 10, b"y", 4),
    ],
    "an unknown read and a call refused outright are ignored": [
        put(0, 1, b"a", 1),
        Op(2, "get", "k", 2, None, "unknown"),
        Op(3, "put", "k", 2, 3, "failed", b"never"),
    ],
    "a conditional delete of an absent key may report either failure": [
        delete(0, 1, outcome="not_found", if_revision=3),
        delete(2, 3, outcome="precondition_failed", if_exists=True),
    ],
    "keys are independent": [
        put(0, 3, b"a", 1, key="x"),
        put(1, 2, b"b", 2, key="y"),
        get(4, 5, b"a", 1, key="x"),
        get(4, 5, key="z"),
    ],
}

VIOLATIONS = {
    "a stale read after a completed write": [
        put(0, 1, b"a", 1),
        put(2, 3, b"b", 2),
        get(4, 5, b"a", 1),
    ],
    "a lost acknowledged write": [put(0, 1, b"a", 1), get(2, 3)],
    "a read of a value never written": [put(0, 1, b"a", 1), get(2, 3, b"z", 5)],
    "a read of another value at a write's revision": [put(0, 1, b"a", 1), get(2, 3, b"z", 1)],
    "a read of a value written later": [get(0, 1, b"a", 1), put(2, 3, b"a", 1)],
    "two compare-and-sets succeed on the same revision": [
        put(0, 1, b"a", 1),
        put(2, 4, b"b", 2, if_revision=1, client=1),
        put(2, 4, b"c", 3, if_revision=1, client=3),
    ],
    "a read of a deleted value after the delete completed": [
        put(0, 1, b"a", 1),
        delete(2, 3, 2),
        get(4, 5, b"a", 1),
    ],
    "an unknown-outcome write that shows up, then disappears": [
        put(0, 1, b"a", 1),
        put(2, None, b"b"),
        get(10, 11, b"b", 7),
        get(12, 13, b"a", 1),
    ],
    "an unknown write seen at a revision above a later write's": [
        put(0, 1, b"a", 1),
        put(2, None, b"b"),
        get(10, 11, b"b", 7),
        put(12, 13, b"c", 5),
    ],
    "concurrent writes seen out of revision order": [
        put(0, 5, b"b", 2, client=1),
        put(1, 4, b"a", 1, client=2),
        get(6, 7, b"a", 1),
    ],
    "a write whose revision is lower than one completed before it": [
        put(0, 1, b"a", 5, key="x"),
        put(2, 3, b"b", 3, key="y"),
    ],
    "two writes with one revision": [put(0, 1, b"a", 1, key="x"), put(2, 3, b"b", 1, key="y")],
    "a failed create on a key never written": [
        put(0, 1, b"a", outcome="precondition_failed", create_only=True)
    ],
    "a delete reporting not_found on a present key": [
        put(0, 1, b"a", 1),
        delete(2, 3, outcome="not_found"),
    ],
}


@pytest.mark.parametrize("history", LINEARIZABLE.values(), ids=LINEARIZABLE.keys())
def test_linearizable_histories_pass(history):
    result = check(history)
    assert result.ok, str(result)


@pytest.mark.parametrize("history", VIOLATIONS.values(), ids=VIOLATIONS.keys())
def test_violations_are_found(history):
    result = check(history)
    assert result.verdict == "violation", str(result)
    assert result.unplaced


def test_a_stale_read_is_explained_without_a_search():
    later, stale = put(2, 3, b"b", 2), get(4, 5, b"a", 1)
    result = check([put(0, 1, b"a", 1), later, stale])
    assert (result.key, result.unplaced, result.steps) == ("k", (later, stale), 0)
    assert "stale read" in str(result)


def test_a_second_compare_and_set_on_one_revision_is_explained_without_a_search():
    first, second = put(2, 4, b"b", 2, if_revision=1), put(3, 5, b"c", 3, if_revision=1)
    result = check([put(0, 1, b"a", 1), first, second])
    assert (result.unplaced, result.steps) == ((first, second), 0)
    assert "conditional on revision 1" in result.reason


def test_a_search_failure_names_the_calls_left_and_the_state_they_missed():
    unknown, seen, old = put(2, None, b"b"), get(10, 11, b"b", 7), get(12, 13, b"a", 1)
    result = check([put(0, 1, b"a", 1), unknown, seen, old])
    assert result.verdict == "violation"
    assert result.linearized[-2:] == (unknown, seen)
    assert result.unplaced == (old,)
    assert result.state == (b"b", 7, 7)
    assert "b'b'@7" in str(result)


def test_a_search_past_its_budget_reports_unknown():
    history = [put(0, None, b"%d" % i, client=i) for i in range(20)]
    history += [get(10 + i, 11 + i) for i in range(20)] + [put(40, 41, b"a", 1)]
    result = check(history, step_budget=5)
    assert result.verdict == "unknown"
    assert not result.ok
    assert "budget exceeded" in str(result)


def test_ops_are_validated():
    with pytest.raises(ValueError, match="exactly when the outcome is unknown"):
        Op(1, "put", "k", 0, None, "ok", b"a", 1)
    with pytest.raises(ValueError, match="at most one precondition"):
        put(0, 1, b"a", 1, if_exists=True, create_only=True)


async def test_history_records_calls_from_asyncio_tasks():
    now = [0.0]
    history = History(clock=lambda: now[0])
    store: dict[str, tuple[bytes, int]] = {}

    async def writer(client: int, value: bytes) -> None:
        call = history.invoke(client, "put", "k", value=value)
        now[0] += 1
        await asyncio.sleep(0)
        store["k"] = (value, len(store) + client)
        history.complete(call, "ok", revision=store["k"][1])

    await asyncio.gather(writer(1, b"a"), writer(2, b"b"))
    read = history.invoke(3, "get", "k")
    history.complete(read, "ok", value=store["k"][0], revision=store["k"][1])
    history.invoke(4, "put", "k", value=b"lost")  # never completed: an unknown outcome
    ops = history.ops()
    assert [op.outcome for op in ops] == ["ok", "ok", "ok", "unknown"]
    assert check(ops).ok
    with pytest.raises(ValueError, match="already completed"):
        history.complete(read, "ok", value=b"b", revision=3)


# -- random histories from a sequential model -----------------------------------------------------

Store = dict[str, tuple[bytes, int]]


@dataclasses.dataclass
class Run:
    history: list[Op]
    before: dict[
        int, tuple[bytes, int] | None
    ]  # an acked write's revision -> the state it replaced


def simulate(seed: int, ops: int, clients: int, keys: str = "ab", lost: float = 0.05) -> Run:
    """Clients call a sequential store, each call taking effect at a random instant between its
    invocation and its response; a lost response leaves the call unknown, in effect or not."""
    rng = random.Random(seed)
    store: Store = {}
    run, revision, issued = Run([], {}), 0, 0
    events = [(rng.random(), client, "invoke", None) for client in range(clients)]
    while events:
        now, client, what, op = heapq.heappop(events)
        if what == "invoke" and issued < ops:
            issued += 1
            op = random_call(rng, client, now, rng.choice(keys), store)
            heapq.heappush(events, (now + rng.expovariate(1.0), client, "effect", op))
        elif what == "effect":
            lost_response = rng.random() < lost
            if lost_response and rng.random() < 0.5:
                run.history.append(op)  # a call that never took effect
                heapq.heappush(events, (now + 3.0, client, "invoke", None))
                continue
            before = store.get(op.key)
            outcome, written = apply(store, op, revision + 1)
            revision = written or revision
            if lost_response:
                run.history.append(op)  # a call that took effect, but nobody heard
                heapq.heappush(events, (now + 3.0, client, "invoke", None))
                continue
            if written:
                run.before[written] = before
            value, read = before if op.kind == "get" and before else (op.value, written)
            result = {"outcome": outcome, "value": value, "revision": read}
            heapq.heappush(events, (now + rng.expovariate(1.0), client, "complete", (op, result)))
        elif what == "complete":
            op, result = op
            run.history.append(dataclasses.replace(op, complete=now, **result))
            heapq.heappush(events, (now + rng.expovariate(2.0), client, "invoke", None))
    return run


def random_call(rng: random.Random, client: int, now: float, key: str, store: Store) -> Op:
    kind = rng.choice(["get", "get", "put", "put", "delete"])
    precondition: dict = {}
    roll = rng.random()
    if kind != "get" and roll < 0.3:
        current = store.get(key, (b"", 1))[1]
        precondition["if_revision"] = current if rng.random() < 0.7 else max(1, current - 1)
    elif kind != "get" and roll < 0.4:
        precondition["if_exists"] = True
    elif kind == "put" and roll < 0.5:
        precondition["create_only"] = True
    value = rng.choice([b"x", b"y", b"z"]) if kind == "put" else None
    return Op(client, kind, key, now, None, "unknown", value, None, **precondition)


def apply(store: Store, op: Op, revision: int) -> tuple[str, int | None]:
    """The sequential specification: the outcome, and the revision a successful write took."""
    held = store.get(op.key)
    if op.kind == "get":
        return ("ok" if held else "not_found"), None
    if (
        (op.if_revision is not None and (held is None or held[1] != op.if_revision))
        or (op.if_exists and held is None)
        or (op.create_only and held is not None)
    ):
        return "precondition_failed", None
    if op.kind == "delete" and held is None:
        return "not_found", None
    if op.kind == "put":
        assert op.value is not None
        store[op.key] = (op.value, revision)
    else:
        del store[op.key]
    return "ok", revision


def planted(rng: random.Random, run: Run, change: Callable[[Op], Op | None]) -> list[Op] | None:
    """The history with the first read, in a random order, that `change` alters."""
    reads = [op for op in run.history if op.kind == "get" and op.outcome == "ok"]
    for read in rng.sample(reads, len(reads)):
        changed = change(read)
        if changed is not None:
            return [changed if op is read else op for op in run.history]
    return None


def with_stale_read(rng: random.Random, run: Run) -> list[Op] | None:
    """Make a read return the value that a write replaced, though that write had completed before
    the read began: never linearizable, since writes take effect in revision order."""

    def stale(read: Op) -> Op | None:
        olds = [run.before[op.revision or 0] for op in run.history if done_before(op, read)]
        olds = [old for old in olds if old is not None]
        if not olds:
            return None
        value, revision = rng.choice(olds)
        return dataclasses.replace(read, value=value, revision=revision)

    return planted(rng, run, stale)


def with_lost_write(rng: random.Random, run: Run) -> list[Op] | None:
    """Make a read report not_found, though a put had completed before it began and no delete
    could have come in between: never linearizable."""

    def lost(read: Op) -> Op | None:
        puts = [op.invoke for op in run.history if op.kind == "put" and done_before(op, read)]
        since = max(puts, default=None)
        deletes = [op for op in run.history if op.kind == "delete" and op.key == read.key]
        if since is None or any(
            op.outcome in ("ok", "unknown")
            and op.invoke < (read.complete or 0)
            and (op.complete is None or op.complete >= since)
            for op in deletes
        ):
            return None
        return dataclasses.replace(read, outcome="not_found", value=None, revision=None)

    return planted(rng, run, lost)


def done_before(write: Op, read: Op) -> bool:
    return write.acked_write and write.key == read.key and (write.complete or 0) < read.invoke


SEEDS = range(300)


def random_run(seed: int) -> Run:
    return simulate(seed, ops=60, clients=2 + seed % 7)


def test_random_linearizable_histories_pass():
    for seed in SEEDS:
        result = check(random_run(seed).history)
        assert result.ok, f"seed {seed}: {result}"


@pytest.mark.parametrize("plant", [with_stale_read, with_lost_write])
def test_a_violation_planted_in_a_random_history_is_found(plant):
    planted = 0
    for seed in SEEDS:
        history = plant(random.Random(seed), random_run(seed))
        if history is not None:
            planted += 1
            result = check(history)
            assert result.verdict == "violation", f"seed {seed}: {result}"
    assert planted > len(SEEDS) / 2


@pytest.mark.parametrize("lost", [0.01, 0.05])
def test_a_long_history_on_one_key_with_16_clients(lost):
    run = simulate(3, ops=3000, clients=16, keys="k", lost=lost)
    assert check(run.history).ok


def test_violations_planted_in_a_long_history_are_found():
    run = simulate(3, ops=3000, clients=16, keys="k", lost=0.01)
    for plant in (with_stale_read, with_lost_write):
        history = plant(random.Random(3), run)
        assert history is not None
        assert check(history).verdict == "violation", plant.__name__
