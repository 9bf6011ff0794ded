"""RocksDB behind a small synchronous interface: apply a batch of commands durably, read, scan.

Every method blocks (disk I/O); the layers above call them from worker threads. `apply` is only
ever called by one thread at a time (the commit loop serialises it); reads run concurrently,
which RocksDB supports. Column families: `kv` holds user keys -> records (see records.py), `meta`
holds the store's revision and node flags. A batch is one atomic WriteBatch written with
sync=True, so an acknowledged write has reached the disk (fsync of the WAL) before its result is
returned.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import rocksdict as rd

from photon_node.core.commands import Command, Expect, Kind, Outcome, Result
from photon_node.core.errors import DataDirError, StorageCorrupted
from photon_node.storage import records
from photon_node.storage.datadir import DataDir, disk_usage

logger = logging.getLogger(__name__)

CF_KV = "kv"
CF_META = "meta"
META_REVISION = b"revision"
_U64 = struct.Struct(">Q")


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
    return options


def _looks_corrupt(error: Exception) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("corrupt", "checksum", "no such file", "truncated"))


def _satisfied(command: Command, current: int) -> bool:
    if command.expect is Expect.REVISION:
        return current == command.expected_revision
    if command.expect is Expect.ABSENT:
        return current == 0
    if command.expect is Expect.EXISTS:
        return current != 0
    return True


class Engine:
    def __init__(self, datadir: DataDir, db: rd.Rdict) -> None:
        self.datadir = datadir
        self._db = db
        self._kv = db.get_column_family(CF_KV)
        self._meta = db.get_column_family(CF_META)
        self._kv_handle = db.get_column_family_handle(CF_KV)
        self._meta_handle = db.get_column_family_handle(CF_META)
        self._sync = rd.WriteOptions()
        self._sync.sync = True
        raw = self._meta.get(META_REVISION)
        self._revision = _U64.unpack(raw)[0] if raw else 0

    @classmethod
    def open(cls, datadir: DataDir) -> Engine:
        """Open (and recover) the database. Blocking: replays the WAL."""
        options = _options()
        families = {CF_KV: rd.Options(raw_mode=True), CF_META: rd.Options(raw_mode=True)}
        try:
            db = rd.Rdict(datadir.db_path, options, column_families=families)
        except Exception as error:
            if _looks_corrupt(error):
                raise DataDirError(
                    f"the database in {datadir.db_path} is damaged and was not opened: {error}. "
                    "Restore this node from its peers or a backup"
                ) from error
            raise DataDirError(f"cannot open the database in {datadir.db_path}: {error}") from error
        engine = cls(datadir, db)
        logger.info("opened %s at revision %d", datadir.db_path, engine.revision)
        return engine

    @property
    def revision(self) -> int:
        return self._revision

    def apply(self, commands: Sequence[Command]) -> list[Result]:
        """Apply commands in order as one atomic, fsync'd batch; return one result each."""
        batch = rd.WriteBatch(raw_mode=True)
        revision = self._revision
        pending: dict[bytes, int] = {}  # key -> revision as of earlier commands in this batch
        results = []
        for command in commands:
            current = pending.get(command.key)
            if current is None:
                current = records.revision_of(command.key, self._kv.get(command.key))
            if not _satisfied(command, current):
                results.append(Result(Outcome.PRECONDITION_FAILED, current))
                continue
            if command.kind is Kind.DELETE and current == 0:
                results.append(Result(Outcome.NOT_FOUND, 0))
                continue
            revision += 1
            if command.kind is Kind.PUT:
                batch.put(
                    command.key,
                    records.pack(command.key, revision, command.value),
                    self._kv_handle,
                )
                pending[command.key] = revision
            else:
                batch.delete(command.key, self._kv_handle)
                pending[command.key] = 0
            results.append(Result(Outcome.OK, revision, created=current == 0))
        if revision != self._revision:
            batch.put(META_REVISION, _U64.pack(revision), self._meta_handle)
            self._db.write(batch, self._sync)
            self._revision = revision
        return results

    def get(self, key: bytes) -> Item | None:
        try:
            record = self._kv.get(key)
        except Exception as error:
            if _looks_corrupt(error):
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
        iterator = self._kv.iter()
        try:
            iterator.seek(max(prefix, start))
            items: list[Item] = []
            size = 0
            while iterator.valid():
                key = iterator.key()
                if not key.startswith(prefix):
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
            if _looks_corrupt(error):
                raise StorageCorrupted(f"scan failed: {error}") from error
            raise
        finally:
            del iterator

    def get_meta(self, name: bytes) -> bytes | None:
        return self._meta.get(name)

    def set_meta(self, name: bytes, value: bytes | None) -> None:
        batch = rd.WriteBatch(raw_mode=True)
        if value is None:
            batch.delete(name, self._meta_handle)
        else:
            batch.put(name, value, self._meta_handle)
        self._db.write(batch, self._sync)

    def size_bytes(self) -> int:
        return disk_usage(self.datadir.db_path)

    def close(self) -> None:
        """Flush memtables and close. The WAL already holds every acknowledged write."""
        self._kv = self._meta = None  # type: ignore[assignment]
        self._kv_handle = self._meta_handle = None  # type: ignore[assignment]
        self._db.flush(True)
        self._db.close()
        logger.info("closed %s at revision %d", self.datadir.db_path, self._revision)
