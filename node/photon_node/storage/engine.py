"""RocksDB behind a small synchronous interface: the key-value state machine.

Every method blocks (disk I/O); the layers above call them from worker threads. `apply_entries`
is only ever called by one thread at a time (the Raft driver serialises it); reads run
concurrently, which RocksDB supports.

Column families: `kv` holds the state machine, `meta` its revision, applied index, generation
and node flags, `raft` the Raft log and hard state (see raftstore.py). Keys in `kv` carry a
one-byte generation prefix: the live state is generation G; a snapshot being received is
written into the other generation and becomes live atomically, in the one synced batch that also
resets the Raft log (see snapshots.py), so a crash mid-install leaves the old state intact.

Applying committed entries is not fsync'd: the Raft log holding them already is, and the applied
index is written in the same atomic batch as their effects, so after a crash the node re-applies
exactly the entries whose effects were lost.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import rocksdict as rd

from photon_node.core.commands import (
    Command,
    Kind,
    Outcome,
    Result,
    decode,
    precondition_holds,
    unwrap,
)
from photon_node.core.errors import DataDirError, StorageCorrupted
from photon_node.core.rafttypes import Entry, EntryKind
from photon_node.storage import records
from photon_node.storage.datadir import DataDir, disk_usage

logger = logging.getLogger(__name__)

CF_KV = "kv"
CF_META = "meta"
CF_RAFT = "raft"
META_REVISION = b"revision"
META_APPLIED = b"applied"
META_GENERATION = b"generation"
U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class Item:
    key: bytes
    value: bytes
    revision: int


def _options() -> rd.Options:
    options = rd.Options(raw_mode=True)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    options.set_paranoid_checks(True)
    # A torn last record (a crash mid-write of an unacknowledged batch) is dropped; corruption
    # anywhere else refuses to open instead of silently truncating acknowledged writes.
    options.set_wal_recovery_mode(rd.DBRecoveryMode.tolerate_corrupted_tail_records())
    options.set_max_background_jobs(2)
    options.set_keep_log_file_num(5)
    # Bound memtable memory across all column families (RocksDB's default is 64 MiB per
    # memtable per family): a node replaying its WAL must fit a pod's memory limit.
    options.set_db_write_buffer_size(48 << 20)
    _bound_memtables(options)
    return options


def _family_options(table: rd.BlockBasedOptions) -> rd.Options:
    options = rd.Options(raw_mode=True)
    _bound_memtables(options)
    options.set_block_based_table_factory(table)
    return options


BLOCK_CACHE_BYTES = 64 << 20


def _table_options(cache: rd.Cache) -> rd.BlockBasedOptions:
    """One block cache shared by every family (RocksDB's default is 8 MiB per table factory,
    smaller than a modest working set), and bloom filters so a point read of a missing key
    rarely touches a data block."""
    table = rd.BlockBasedOptions()
    table.set_block_cache(cache)
    table.set_bloom_filter(10, False)
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    return table


def _bound_memtables(options: rd.Options) -> None:
    options.set_write_buffer_size(16 << 20)
    options.set_max_write_buffer_number(2)


def looks_corrupt(error: Exception) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("corrupt", "checksum", "no such file", "truncated"))


def _upper_bound(prefix: bytes) -> bytes:
    return prefix + b"\xff" * 1100  # keys are at most 1 KiB


class Engine:
    def __init__(self, datadir: DataDir, db: rd.Rdict) -> None:
        self.datadir = datadir
        self.db = db
        self.kv = db.get_column_family(CF_KV)
        self.meta = db.get_column_family(CF_META)
        self.raft = db.get_column_family(CF_RAFT)
        self.kv_handle = db.get_column_family_handle(CF_KV)
        self.meta_handle = db.get_column_family_handle(CF_META)
        self.raft_handle = db.get_column_family_handle(CF_RAFT)
        self.nosync = rd.WriteOptions()
        self.revision = self._meta_int(META_REVISION)
        self.applied = self._meta_int(META_APPLIED)
        self.generation = self._meta_int(META_GENERATION) & 1

    def _meta_int(self, name: bytes) -> int:
        raw = self.meta.get(name)
        return U64.unpack(raw)[0] if raw else 0

    @classmethod
    def open(cls, datadir: DataDir) -> Engine:
        """Open (and recover) the database. Blocking: replays the WAL."""
        table = _table_options(rd.Cache(BLOCK_CACHE_BYTES))
        families = {name: _family_options(table) for name in (CF_KV, CF_META, CF_RAFT)}
        try:
            db = rd.Rdict(datadir.db_path, _options(), column_families=families)
        except Exception as error:
            if looks_corrupt(error):
                raise DataDirError(
                    f"the database in {datadir.db_path} is damaged and was not opened: {error}. "
                    "Restore this node from its peers or a backup"
                ) from error
            raise DataDirError(f"cannot open the database in {datadir.db_path}: {error}") from error
        engine = cls(datadir, db)
        engine.discard_generation(engine.generation ^ 1)  # leftovers of an interrupted install
        logger.info(
            "opened %s at revision %d, applied index %d",
            datadir.db_path, engine.revision, engine.applied,
        )  # fmt: skip
        return engine

    # -- keys ----------------------------------------------------------------------------------
    def key(self, user_key: bytes, generation: int | None = None) -> bytes:
        return bytes((self.generation if generation is None else generation,)) + user_key

    def write_durable(self, batch: rd.WriteBatch) -> None:
        """Write and fsync the WAL. (write(sync=True) holds the GIL through the fsync in
        rocksdict, stalling the event loop; flush_wal(sync=True) releases it.)"""
        self.db.write(batch, self.nosync)
        self.sync_wal()

    def sync_wal(self) -> None:
        """fsync the WAL: everything written so far is durable (releases the GIL)."""
        self.db.flush_wal(True)

    def discard_generation(self, generation: int) -> None:
        prefix = bytes((generation,))
        batch = rd.WriteBatch(raw_mode=True)
        batch.delete_range(prefix, _upper_bound(prefix), self.kv_handle)
        self.db.write(batch, self.nosync)

    # -- state machine -------------------------------------------------------------------------
    def apply_entries(
        self, entries: Sequence[Entry], origin: str | None = None
    ) -> list[Result | None]:
        """Apply committed entries in order as one atomic batch (not fsync'd: see above).
        Returns one Result per NORMAL entry and None for the others. With `origin` (this
        node's id), an unconditional PUT proposed by another node is applied without reading
        the key first: the new state does not depend on it, and nobody here waits for its
        Result (whose `created` is then not known)."""
        batch = rd.WriteBatch(raw_mode=True)
        revision = self.revision
        pending: dict[bytes, int] = {}  # key -> revision as of earlier entries in this batch
        results: list[Result | None] = []
        for entry in entries:
            if entry.kind is not EntryKind.NORMAL:
                results.append(None)
                continue
            proposer, _, data = unwrap(entry.data)
            command = decode(data)
            blind = origin is not None and proposer != origin and command.blind
            result, revision = self._apply_one(batch, command, revision, pending, blind)
            results.append(result)
        batch.put(META_REVISION, U64.pack(revision), self.meta_handle)
        batch.put(META_APPLIED, U64.pack(entries[-1].index), self.meta_handle)
        self.db.write(batch, self.nosync)
        self.revision = revision
        self.applied = entries[-1].index
        return results

    def _apply_one(
        self, batch: rd.WriteBatch, command: Command, revision: int, pending: dict[bytes, int],
        blind: bool = False,
    ) -> tuple[Result, int]:  # fmt: skip
        """`blind`: an unconditional PUT whose Result nobody here reads; the key is not read
        (its `created` is then reported as False)."""
        current = pending.get(command.key)
        if current is None:
            current = (
                -1
                if blind
                else records.revision_of(command.key, self.kv.get(self.key(command.key)))
            )
        if not precondition_holds(command, current):
            return Result(Outcome.PRECONDITION_FAILED, current), revision
        if command.kind is Kind.DELETE and current == 0:
            return Result(Outcome.NOT_FOUND, 0), revision
        revision += 1
        if command.kind is Kind.PUT:
            record = records.pack(command.key, revision, command.value)
            batch.put(self.key(command.key), record, self.kv_handle)
            pending[command.key] = revision
        else:
            batch.delete(self.key(command.key), self.kv_handle)
            pending[command.key] = 0
        return Result(Outcome.OK, revision, created=current == 0), revision  # -1: not read

    def get(self, key: bytes) -> Item | None:
        try:
            record = self.kv.get(self.key(key))
        except Exception as error:
            if looks_corrupt(error):
                raise StorageCorrupted(f"read failed: {error}") from error
            raise
        if record is None:
            return None
        revision, value = records.unpack(key, record)
        return Item(key, value, revision)

    def scan(
        self, prefix: bytes, start: bytes, limit: int, max_bytes: int
    ) -> tuple[list[Item], bytes | None]:
        """Items with the prefix from `start` on, in key order; and the key to continue at."""
        iterator = self.kv.iter()
        generation_prefix = self.key(b"")
        try:
            iterator.seek(self.key(max(prefix, start)))
            items: list[Item] = []
            size = 0
            while iterator.valid():
                full_key = iterator.key()
                key = full_key[1:]
                if not full_key.startswith(generation_prefix) or not key.startswith(prefix):
                    return items, None
                if len(items) >= limit or (items and size >= max_bytes):
                    return items, key
                revision, value = records.unpack(key, iterator.value())
                items.append(Item(key, value, revision))
                size += len(key) + len(value)
                iterator.next()
            iterator.status()
            return items, None
        except StorageCorrupted:
            raise
        except Exception as error:
            if looks_corrupt(error):
                raise StorageCorrupted(f"scan failed: {error}") from error
            raise
        finally:
            del iterator

    # -- node flags ----------------------------------------------------------------------------
    def get_meta(self, name: bytes) -> bytes | None:
        return self.meta.get(name)

    def set_meta(self, name: bytes, value: bytes | None) -> None:
        batch = rd.WriteBatch(raw_mode=True)
        if value is None:
            batch.delete(name, self.meta_handle)
        else:
            batch.put(name, value, self.meta_handle)
        self.write_durable(batch)

    def size_bytes(self) -> int:
        return disk_usage(self.datadir.db_path)

    def close(self) -> None:
        """Flush memtables and close. The WAL already holds every acknowledged write."""
        self.kv = self.meta = self.raft = None  # type: ignore[assignment]
        self.kv_handle = self.meta_handle = self.raft_handle = None  # type: ignore[assignment]
        self.db.flush(True)
        self.db.close()
        logger.info("closed %s at revision %d", self.datadir.db_path, self.revision)
