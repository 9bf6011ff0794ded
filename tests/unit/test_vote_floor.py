"""A member that lost its data withholds its vote until it has caught up, across restarts:
the floor is part of the hard state, stored in RocksDB next to the term and vote."""

import random

from photon_node.cluster.raft.core import RaftCore, RaftOptions
from photon_node.core.rafttypes import (
    Config,
    Entry,
    EntryKind,
    HardState,
    Message,
    MsgType,
    SnapshotMeta,
)
from photon_node.storage.datadir import prepare
from photon_node.storage.engine import Engine
from photon_node.storage.raftstore import RaftStore

CONFIG = Config.of({"n1": "n1:1", "n2": "n2:1", "n3": "n3:1"})


def restarted(floor: int | None, last: int) -> RaftCore:
    """n3 restarted with `last` entries of term 1 and the given floor; booted long ago."""
    entries = [Entry(1, i, EntryKind.NORMAL, b"x") for i in range(1, last + 1)]
    hard = HardState(term=2, vote="", commit=0, vote_floor=floor)
    core = RaftCore("n3", hard, SnapshotMeta(0, 0, CONFIG), entries, 0, random.Random(1),
                    RaftOptions(check_quorum=False))  # fmt: skip
    return core


def vote_request(core: RaftCore, last: int) -> bool:
    """n2 asks for a vote in term 3 with a log of `last` entries of term 1: granted?"""
    core.step(Message(MsgType.VOTE, "n2", "n3", 3, index=last, log_term=1))
    answers = [m for m in core.ready().messages if m.type is MsgType.VOTE_RESP]
    assert len(answers) == 1
    return not answers[0].reject


def test_a_restarted_member_below_its_floor_does_not_vote():
    core = restarted(floor=50, last=20)
    assert core.withholding_votes and not core.promotable
    assert not vote_request(core, last=20)
    assert core.hard_state.vote_floor == 50  # and it stays stored


def test_without_a_floor_the_same_log_votes():
    """The check above can fail: the same request is granted to a member with no floor."""
    assert vote_request(restarted(floor=None, last=20), last=20)


def test_a_member_that_reached_its_floor_votes_and_clears_it():
    core = restarted(floor=20, last=20)
    assert vote_request(core, last=20)
    assert core.hard_state.vote_floor is None


def test_the_store_keeps_the_floor_until_it_is_cleared(tmp_path):
    def reopen() -> tuple[Engine, RaftStore, HardState]:
        engine = Engine.open(prepare(str(tmp_path / "data"), "n3"))
        store = RaftStore(engine)
        hard, _, _ = store.load()
        return engine, store, hard

    engine, store, hard = reopen()
    assert hard.vote_floor is None
    store.save(HardState(0, "", 0, 0), [])  # withholding, floor not known yet
    engine.close()
    engine, store, hard = reopen()
    assert hard.vote_floor == 0
    entries = [Entry(2, 1, EntryKind.NORMAL, b"x")]
    store.save(HardState(2, "", 0, 40), entries)  # heard a leader whose commit was 40
    store.save(HardState(2, "", 1, 40), [], sync=False)  # only the commit moved
    engine.close()
    engine, store, hard = reopen()
    assert hard == HardState(2, "", 1, 40)
    more = [Entry(2, i, EntryKind.NORMAL, b"x") for i in range(2, 41)]
    store.save(HardState(2, "", 40, None), more)  # caught up
    engine.close()
    engine, store, hard = reopen()
    assert hard == HardState(2, "", 40, None)
    engine.close()
