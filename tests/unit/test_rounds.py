"""RoundGate (raft/rounds.py): when a leader lets new proposals into its log."""

import pytest

from photon_node.cluster.raft.rounds import RoundGate
from photon_node.core.rafttypes import Entry, EntryKind, Message, MsgType


def _propose(count: int) -> Message:
    entries = tuple(Entry(0, 0, EntryKind.NORMAL, b"x") for _ in range(count))
    return Message(MsgType.PROPOSE, "n2", "n1", 1, entries=entries)


def test_one_round_in_flight_closes_until_it_commits():
    gate = RoundGate(1)
    gate.started(True, last_index=10, committed=10)  # the log did not grow: no round
    assert not gate.closed(True, committed=10)
    gate.started(True, last_index=13, committed=10)  # entries 11..13: one round
    gate.started(True, last_index=13, committed=10)  # nothing new since: still one
    assert gate.in_flight(10) == 1
    assert gate.closed(True, committed=10) and gate.closed(True, committed=12)
    assert gate.in_flight(12) == 1
    assert not gate.closed(True, committed=13)
    assert gate.in_flight(13) == 0


def test_two_rounds_in_flight():
    gate = RoundGate(2)
    gate.started(True, last_index=2, committed=0)
    assert not gate.closed(True, committed=0)
    gate.started(True, last_index=5, committed=0)
    assert gate.closed(True, committed=0)
    assert not gate.closed(True, committed=2)  # the first committed: one more may start
    assert gate.in_flight(2) == 1


def test_no_bound_never_closes():
    gate = RoundGate(0)
    assert not gate.enabled
    for last in range(1, 50):
        gate.started(True, last_index=last, committed=0)
        assert not gate.closed(True, committed=0)


def test_a_node_that_stops_leading_forgets_its_rounds_and_releases_what_it_held():
    gate = RoundGate(1)
    gate.started(True, last_index=7, committed=5)
    gate.held += [_propose(3), _propose(2)]
    assert gate.closed(True, committed=5) and gate.held_entries == 5
    assert not gate.closed(False, committed=5)  # a follower holds nothing back
    assert gate.in_flight(5) == 0
    released = gate.release()
    assert [len(m.entries) for m in released] == [3, 2]
    assert gate.held == [] and gate.held_entries == 0


def _one_round_of(gate: RoundGate, size: int, committed: int, at: float) -> int:
    """A round of `size` entries starts after `committed` and commits at time `at`."""
    gate.started(True, last_index=committed + size, committed=committed)
    assert gate.closed(True, committed=committed, now=at - 0.001)
    assert not gate.closed(True, committed=committed + size, now=at)
    return committed + size


def test_the_next_round_lingers_for_as_many_as_the_last_carried_within_the_bound():
    gate = RoundGate(1, linger=0.002)
    _one_round_of(gate, 4, committed=10, at=100.0)
    # fewer than 4 wait: up to 2 ms after the commit
    assert gate.lingers(3, now=100.0005) == pytest.approx(0.0015)
    assert gate.lingers(3, now=100.0025) == 0.0  # the bound passed: start with what waits
    assert gate.lingers(4, now=100.0005) == 0.0  # as many as the last round: start now
    assert gate.lingers(9, now=100.0005) == 0.0
    assert gate.lingers(0, now=100.0005) == 0.0  # nothing to start


def test_a_lone_client_and_a_gate_without_linger_never_wait():
    gate = RoundGate(1, linger=0.002)
    _one_round_of(gate, 1, committed=0, at=5.0)
    assert gate.lingers(1, now=5.0) == 0.0  # one is as many as its last round carried
    unbounded = RoundGate(1, linger=0.0)
    _one_round_of(unbounded, 8, committed=0, at=5.0)
    assert unbounded.lingers(1, now=5.0) == 0.0


def test_the_linger_counts_from_the_commit_of_the_last_round():
    gate = RoundGate(1, linger=0.002)
    last = _one_round_of(gate, 6, committed=0, at=1.0)
    _one_round_of(gate, 6, committed=last, at=2.0)
    assert gate.lingers(2, now=2.001) == pytest.approx(0.001)  # not from the first round's commit


def test_the_linger_is_never_longer_than_twice_what_the_last_round_took():
    gate = RoundGate(1, linger=0.005)
    gate.started(True, last_index=6, committed=0, now=10.0)
    assert not gate.closed(True, committed=6, now=10.001)  # that round took 1 ms
    assert gate.lingers(2, now=10.001) == pytest.approx(0.002)  # not the 5 ms of the bound
    assert gate.lingers(2, now=10.0031) == 0.0
