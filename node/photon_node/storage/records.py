"""Encoding of one stored value: revision and checksum in front of the user's bytes.

    u8 record version | u64 revision | u32 crc32(key, revision, value) | value

The checksum covers the key too, so a value that RocksDB returns for the wrong key, or bytes
damaged on disk in a way RocksDB's block checksums miss, are detected rather than served.
"""

from __future__ import annotations

import struct
import zlib

from photon_node.core.errors import StorageCorrupted

RECORD_VERSION = 1
_HEAD = struct.Struct(">BQI")
_REV = struct.Struct(">Q")


def _checksum(key: bytes, revision: int, value: bytes) -> int:
    return zlib.crc32(value, zlib.crc32(_REV.pack(revision), zlib.crc32(key)))


def pack(key: bytes, revision: int, value: bytes) -> bytes:
    return _HEAD.pack(RECORD_VERSION, revision, _checksum(key, revision, value)) + value


def unpack(key: bytes, record: bytes) -> tuple[int, bytes]:
    """Return (revision, value); raise StorageCorrupted if the record does not verify."""
    if len(record) < _HEAD.size:
        raise StorageCorrupted("stored record is truncated", key=key.decode("utf-8", "replace"))
    version, revision, crc = _HEAD.unpack_from(record)
    value = record[_HEAD.size :]
    if version != RECORD_VERSION or crc != _checksum(key, revision, value):
        raise StorageCorrupted(
            "stored record fails its checksum", key=key.decode("utf-8", "replace")
        )
    return revision, value


def revision_of(key: bytes, record: bytes | None) -> int:
    """Revision stored in a record without verifying the value (0 when absent)."""
    if record is None:
        return 0
    if len(record) < _HEAD.size:
        raise StorageCorrupted("stored record is truncated", key=key.decode("utf-8", "replace"))
    return _HEAD.unpack_from(record)[1]
