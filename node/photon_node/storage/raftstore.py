"""Persistence of a Raft group's log, hard state and snapshot point in the `raft` column family.

Keys (group = u32, index = u64, big-endian so entries sort by index):
    b"e" group index -> u64 term | u8 kind | data
    b"h" group       -> u64 term | u64 commit | vote (utf-8)
    b"s" group       -> u64 index | u64 term | config (JSON)
    b"w" group       -> u64 vote floor (present only while a member that lost its data
                        withholds its vote; see HardState.vote_floor)

`save` writes entries (replacing any stored suffix from the first one on) and the hard state in
one batch with sync=True: a Raft message that depends on them is sent only after it returns.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import rocksdict as rd

from photon_node.core.errors import DataDirError
from photon_node.core.rafttypes import Config, Entry, EntryKind, HardState, SnapshotMeta
from photon_node.storage.engine import META_APPLIED, META_GENERATION, META_REVISION, U64, Engine

_GROUP = struct.Struct(">I")
_INDEX = struct.Struct(">IQ")
_ENTRY_HEAD = struct.Struct(">QB")
_HARD = struct.Struct(">QQ")
_SNAP = struct.Struct(">QQ")
_MAX_INDEX = 2**64 - 1


def _verify(hard: HardState, snapshot: SnapshotMeta, entries: list[Entry]) -> None:
    """The log must be contiguous after the snapshot and reach the committed index."""
    for position, entry in enumerate(entries):
        if entry.index != snapshot.index + 1 + position:
            raise DataDirError(f"the Raft log has a gap before index {entry.index}; it is damaged")
    last = entries[-1].index if entries else snapshot.index
    if hard.commit > last:
        raise DataDirError(
            f"the Raft log ends at {last} but index {hard.commit} was committed; it is damaged"
        )


def _entry_key(group: int, index: int) -> bytes:
    return b"e" + _INDEX.pack(group, index)


class RaftStore:
    def __init__(self, engine: Engine, group: int = 0) -> None:
        self.engine = engine
        self.group = group
        # Highest entry index that may be stored. Unknown until `load`, so assume anything.
        # `save` deletes a stored suffix only when it really overwrites one: a range tombstone
        # per append would pile up in the memtable and slow every read, write and flush.
        self._last = _MAX_INDEX - 1
        self._floor: int | None = None  # the stored vote floor (written only when it changes)

    @property
    def _cf(self):
        return self.engine.raft

    def load(self) -> tuple[HardState, SnapshotMeta, list[Entry]]:
        """Everything Raft needs to restart. Blocking."""
        group = _GROUP.pack(self.group)
        raw = self._cf.get(b"h" + group)
        hard = HardState()
        if raw:
            term, commit = _HARD.unpack_from(raw)
            hard = HardState(term, raw[_HARD.size :].decode(), commit)
        raw = self._cf.get(b"w" + group)
        if raw:
            hard = HardState(hard.term, hard.vote, hard.commit, U64.unpack(raw)[0])
        self._floor = hard.vote_floor
        raw = self._cf.get(b"s" + group)
        snapshot = SnapshotMeta()
        if raw:
            index, term = _SNAP.unpack_from(raw)
            snapshot = SnapshotMeta(index, term, Config.decode(raw[_SNAP.size :]))
        entries = []
        iterator = self._cf.iter()
        try:
            iterator.seek(_entry_key(self.group, snapshot.index + 1))
            upper = _entry_key(self.group, _MAX_INDEX)
            while iterator.valid() and iterator.key() < upper:
                (_, index) = _INDEX.unpack_from(iterator.key(), 1)
                value = iterator.value()
                term, kind = _ENTRY_HEAD.unpack_from(value)
                entries.append(Entry(term, index, EntryKind(kind), value[_ENTRY_HEAD.size :]))
                iterator.next()
            iterator.status()  # raises if iteration stopped on an error rather than at the end
        except Exception as error:
            raise DataDirError(
                f"the Raft log cannot be read ({error}); restore this node"
            ) from error
        finally:
            del iterator
        _verify(hard, snapshot, entries)
        self._last = entries[-1].index if entries else snapshot.index
        return hard, snapshot, entries

    def _put_hard(self, batch: rd.WriteBatch, hard: HardState) -> None:
        body = _HARD.pack(hard.term, hard.commit) + hard.vote.encode()
        batch.put(b"h" + _GROUP.pack(self.group), body, self.engine.raft_handle)
        if hard.vote_floor != self._floor:
            key = b"w" + _GROUP.pack(self.group)
            if hard.vote_floor is None:
                batch.delete(key, self.engine.raft_handle)
            else:
                batch.put(key, U64.pack(hard.vote_floor), self.engine.raft_handle)

    def _put_snapshot(self, batch: rd.WriteBatch, snap: SnapshotMeta) -> None:
        body = _SNAP.pack(snap.index, snap.term) + snap.config.encode()
        batch.put(b"s" + _GROUP.pack(self.group), body, self.engine.raft_handle)

    def save(self, hard: HardState | None, entries: Sequence[Entry], sync: bool = True) -> None:
        """Store entries (overwriting from entries[0] on) and the hard state; fsync unless
        `sync` is False. Unsynced is allowed when only the commit index moved (it is re-learnt
        from the leader after a crash, as in etcd's MustSync) or when the caller fsyncs the WAL
        itself before relying on it (the Raft driver, with `Engine.sync_wal` off the loop)."""
        batch = rd.WriteBatch(raw_mode=True)
        handle = self.engine.raft_handle
        if entries:
            if entries[0].index <= self._last:  # a conflicting suffix is replaced
                first = _entry_key(self.group, entries[0].index)
                batch.delete_range(first, _entry_key(self.group, self._last + 1), handle)
            for entry in entries:
                body = _ENTRY_HEAD.pack(entry.term, entry.kind) + entry.data
                batch.put(_entry_key(self.group, entry.index), body, handle)
        if hard is not None:
            self._put_hard(batch, hard)
        if sync:
            self.engine.write_durable(batch)
        else:
            self.engine.db.write(batch, self.engine.nosync)
        if entries:
            self._last = entries[-1].index
        if hard is not None:
            self._floor = hard.vote_floor

    def compact(self, snapshot: SnapshotMeta) -> None:
        """Forget entries up to snapshot.index: their effects are in the state machine, whose
        applied index is at least that far (and durable: it is flushed first)."""
        self.engine.db.flush_wal(True)  # the applied state up to here is durable first
        batch = rd.WriteBatch(raw_mode=True)
        batch.delete_range(
            _entry_key(self.group, 0), _entry_key(self.group, snapshot.index + 1),
            self.engine.raft_handle,
        )  # fmt: skip
        self._put_snapshot(batch, snapshot)
        self.engine.write_durable(batch)

    def install(self, snapshot: SnapshotMeta, hard: HardState, revision: int) -> None:
        """Make the staged generation live at snapshot.index and reset the log, atomically."""
        engine = self.engine
        staged = engine.generation ^ 1
        batch = rd.WriteBatch(raw_mode=True)
        batch.delete_range(
            _entry_key(self.group, 0), _entry_key(self.group, _MAX_INDEX), engine.raft_handle
        )
        self._put_snapshot(batch, snapshot)
        self._put_hard(batch, hard)
        batch.put(META_GENERATION, U64.pack(staged), engine.meta_handle)
        batch.put(META_APPLIED, U64.pack(snapshot.index), engine.meta_handle)
        batch.put(META_REVISION, U64.pack(revision), engine.meta_handle)
        engine.write_durable(batch)
        old = engine.generation
        engine.generation, engine.applied, engine.revision = staged, snapshot.index, revision
        engine.discard_generation(old)
        self._last = snapshot.index
        self._floor = hard.vote_floor
