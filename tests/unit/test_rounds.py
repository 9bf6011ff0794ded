"""RoundGate (raft/rounds.py): when a leader lets new proposals into its log."""

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
