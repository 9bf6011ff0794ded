"""The storage engine against a real RocksDB in a temporary directory."""

import json

import pytest

from photon_common import contract
from photon_node.core.commands import Command, Expect, Kind, Outcome, encode, wrap
from photon_node.core.errors import DataDirError
from photon_node.core.rafttypes import Entry, EntryKind
from photon_node.storage.datadir import FORMAT_FILE, prepare
from photon_node.storage.engine import Engine


@pytest.fixture
def engine(tmp_path):
    engine = Engine.open(prepare(str(tmp_path / "data"), "n1"))
    engine.apply = lambda commands: apply(engine, commands)
    yield engine
    engine.close()


def apply(engine, commands):
    """Apply commands as consecutive committed Raft entries."""
    first = engine.applied + 1
    entries = [
        Entry(1, first + i, EntryKind.NORMAL, wrap("n1", i, encode(c)))
        for i, c in enumerate(commands)
    ]
    return engine.apply_entries(entries)


def put(key, value=b"v", expect=Expect.ANY, revision=0):
    return Command(Kind.PUT, key, value, expect, revision)


def test_revisions_increase_by_one_per_successful_write(engine):
    results = engine.apply([put(b"a"), put(b"b"), put(b"a"), Command(Kind.DELETE, b"b")])
    assert [r.revision for r in results] == [1, 2, 3, 4]
    assert [r.created for r in results[:3]] == [True, True, False]
    assert engine.revision == 4
    assert engine.get(b"a").revision == 3
    assert engine.get(b"b") is None


def test_preconditions_see_earlier_commands_in_the_same_batch(engine):
    results = engine.apply(
        [
            put(b"k", expect=Expect.ABSENT),
            put(b"k", expect=Expect.ABSENT),
            put(b"k", b"v2", Expect.REVISION, 1),
            put(b"k", b"v3", Expect.REVISION, 1),
            Command(Kind.DELETE, b"k", expect=Expect.EXISTS),
            Command(Kind.DELETE, b"k"),
        ]
    )
    outcomes = [r.outcome for r in results]
    assert outcomes == [
        Outcome.OK,
        Outcome.PRECONDITION_FAILED,
        Outcome.OK,
        Outcome.PRECONDITION_FAILED,
        Outcome.OK,
        Outcome.NOT_FOUND,
    ]
    assert results[3].revision == 2  # the current revision is reported on mismatch
    assert engine.revision == 3  # failed commands consume no revision


def test_state_survives_reopen(tmp_path):
    path = str(tmp_path / "data")
    engine = Engine.open(prepare(path, "n1"))
    apply(engine, [put(b"x", b"1"), put(b"y", b"2")])
    engine.close()
    engine = Engine.open(prepare(path, "n1"))
    try:
        assert engine.revision == 2
        assert engine.applied == 2
        assert engine.get(b"y").value == b"2"
    finally:
        engine.close()


def test_scan_orders_pages_and_respects_prefix(engine):
    keys = [b"a", b"b/1", b"b/2", b"b/3", b"c"]
    engine.apply([put(k, k) for k in reversed(keys)])
    items, nxt = engine.scan(b"b/", b"", 2, 1 << 20)
    assert [i.key for i in items] == [b"b/1", b"b/2"] and nxt == b"b/3"
    items, nxt = engine.scan(b"b/", nxt, 2, 1 << 20)
    assert [i.key for i in items] == [b"b/3"] and nxt is None
    items, _ = engine.scan(b"", b"b/2", 10, 1 << 20)
    assert [i.key for i in items] == [b"b/2", b"b/3", b"c"]


def test_scan_byte_budget_returns_a_continuation(engine):
    engine.apply([put(bytes([65 + i]), b"x" * 1000) for i in range(10)])
    items, nxt = engine.scan(b"", b"", 100, 2500)
    assert len(items) == 3 and nxt == b"D"


def test_non_command_entries_advance_the_applied_index_only(engine):
    results = engine.apply_entries([Entry(1, 1, EntryKind.NOOP), Entry(1, 2, EntryKind.CONFIG)])
    assert results == [None, None]
    assert engine.applied == 2 and engine.revision == 0


def test_meta_flags_persist(tmp_path):
    path = str(tmp_path / "data")
    engine = Engine.open(prepare(path, "n1"))
    engine.set_meta(b"draining", b"1")
    engine.close()
    engine = Engine.open(prepare(path, "n1"))
    assert engine.get_meta(b"draining") == b"1"
    engine.set_meta(b"draining", None)
    assert engine.get_meta(b"draining") is None
    engine.close()


def test_newer_format_is_refused(tmp_path):
    path = tmp_path / "data"
    prepare(str(path), "n1")
    (path / FORMAT_FILE).write_text(json.dumps({"format": 99, "node_id": "n1", "created_by": "9"}))
    with pytest.raises(DataDirError, match="format 99"):
        prepare(str(path), "n1")


def test_foreign_node_and_damaged_format_are_refused(tmp_path):
    path = tmp_path / "data"
    prepare(str(path), "n1")
    with pytest.raises(DataDirError, match="belongs to node 'n1'"):
        prepare(str(path), "n2")
    (path / FORMAT_FILE).write_text("{not json")
    with pytest.raises(DataDirError, match="damaged"):
        prepare(str(path), "n1")


def test_database_without_format_file_is_refused(tmp_path):
    path = tmp_path / "data"
    Engine.open(prepare(str(path), "n1")).close()
    (path / FORMAT_FILE).unlink()
    with pytest.raises(DataDirError, match="no FORMAT"):
        prepare(str(path), "n1")


def test_format_file_records_current_format(tmp_path):
    path = tmp_path / "data"
    prepare(str(path), "n7")
    meta = json.loads((path / FORMAT_FILE).read_text())
    assert meta["format"] == contract.DATA_FORMAT_VERSION and meta["node_id"] == "n7"


def test_blind_apply_of_foreign_puts_reaches_the_same_state(tmp_path):
    """A node applying unconditional PUTs proposed elsewhere skips reading the keys; its
    revisions and stored values must be those of a node that reads them."""
    commands = [put(b"a"), put(b"b"), put(b"a", b"w"), Command(Kind.DELETE, b"b"), put(b"b")]
    entries = [Entry(1, i + 1, EntryKind.NORMAL, wrap("n1", i, encode(c)))
               for i, c in enumerate(commands)]  # fmt: skip
    states = []
    for name, origin in (("reads", None), ("blind", "n2")):
        engine = Engine.open(prepare(str(tmp_path / name), "n2"))
        results = engine.apply_entries(entries, origin)
        states.append(([r.revision for r in results],
                       [(k, engine.get(k)) for k in (b"a", b"b")], engine.revision))  # fmt: skip
        engine.close()
    assert states[0] == states[1]
    assert states[0][0] == [1, 2, 3, 4, 5]
