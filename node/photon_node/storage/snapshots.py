"""Streaming the state machine out of and into RocksDB for Raft snapshots.

Out: `SnapshotReader` pins a RocksDB snapshot of the live generation at the applied index it is
created at (create it between applies) and yields chunks of (key, record) pairs in key order.
In: `stage_begin` clears the inactive generation, `stage_chunk` writes pairs into it (checksums
verified), and RaftStore.install makes it live atomically.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import rocksdict as rd

from photon_node.core.errors import StorageCorrupted
from photon_node.storage import records
from photon_node.storage.engine import Engine

_LEN = struct.Struct(">HI")


class SnapshotReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index = engine.applied
        self.revision = engine.revision
        self.generation = engine.generation
        self._snapshot = engine.kv.snapshot()

    def chunks(self, max_bytes: int = 1 << 20) -> Iterator[bytes]:
        """Encoded chunks: repeated u16 key length | u32 record length | key | record. Blocking."""
        prefix = bytes((self.generation,))
        iterator = self._snapshot.iter()
        iterator.seek(prefix)
        parts: list[bytes] = []
        size = 0
        try:
            while iterator.valid():
                full_key = iterator.key()
                if not full_key.startswith(prefix):
                    break
                key, record = full_key[1:], iterator.value()
                parts.append(_LEN.pack(len(key), len(record)) + key + record)
                size += len(key) + len(record) + _LEN.size
                if size >= max_bytes:
                    yield b"".join(parts)
                    parts, size = [], 0
                iterator.next()
            if parts:
                yield b"".join(parts)
        finally:
            del iterator

    def close(self) -> None:
        self._snapshot = None


def decode_chunk(chunk: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    offset = 0
    while offset < len(chunk):
        if offset + _LEN.size > len(chunk):
            raise StorageCorrupted("truncated snapshot chunk")
        key_len, record_len = _LEN.unpack_from(chunk, offset)
        offset += _LEN.size
        key = chunk[offset : offset + key_len]
        record = chunk[offset + key_len : offset + key_len + record_len]
        if len(key) != key_len or len(record) != record_len:
            raise StorageCorrupted("truncated snapshot chunk")
        records.unpack(key, record)  # verify before storing
        pairs.append((key, record))
        offset += key_len + record_len
    return pairs


def stage_begin(engine: Engine) -> None:
    engine.discard_generation(engine.generation ^ 1)


def stage_chunk(engine: Engine, chunk: bytes) -> None:
    staged = engine.generation ^ 1
    batch = rd.WriteBatch(raw_mode=True)
    for key, record in decode_chunk(chunk):
        batch.put(engine.key(key, staged), record, engine.kv_handle)
    engine.db.write(batch, engine.nosync)
