"""Versioned binary codec for Raft messages (never pickle).

    u8 version | u8 type | u32 group | str src | str dst | u64 term | u64 log_term | u64 index
    | u64 commit | u8 reject | u64 reject_hint | bytes context | u32 n_entries
    | n x (u64 term | u64 index | u8 kind | bytes data) | u8 has_snapshot
    [| u64 index | u64 term | bytes config]

`str` and `bytes` are u32-length-prefixed. Decoding rejects unknown versions, unknown enum
values, truncation and trailing bytes with CodecError.
"""

from __future__ import annotations

import struct

from photon_node.core.rafttypes import (
    Config,
    Entry,
    EntryKind,
    Message,
    MsgType,
    SnapshotMeta,
)

RAFT_CODEC_VERSION = 1
_HEAD = struct.Struct(">BBI")
_NUMS = struct.Struct(">QQQQBQ")
_ENTRY = struct.Struct(">QQB")
_U32 = struct.Struct(">I")
_U64x2 = struct.Struct(">QQ")


_ENTRY_KINDS = {member.value: member for member in EntryKind}  # KeyError: unknown kind


class CodecError(ValueError):
    pass


def _bytes(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def encode(msg: Message) -> bytes:
    parts = [
        _HEAD.pack(RAFT_CODEC_VERSION, msg.type, msg.group),
        _bytes(msg.src.encode()),
        _bytes(msg.dst.encode()),
        _NUMS.pack(msg.term, msg.log_term, msg.index, msg.commit, msg.reject, msg.reject_hint),
        _bytes(msg.context),
        _U32.pack(len(msg.entries)),
    ]
    for entry in msg.entries:
        parts.append(_ENTRY.pack(entry.term, entry.index, entry.kind))
        parts.append(_bytes(entry.data))
    if msg.snapshot is None:
        parts.append(b"\x00")
    else:
        snap = msg.snapshot
        parts += [b"\x01", _U64x2.pack(snap.index, snap.term), _bytes(snap.config.encode())]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, size: int) -> memoryview:
        if self.pos + size > len(self.data):
            raise CodecError("truncated raft message")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: struct.Struct) -> tuple:
        return fmt.unpack(self.take(fmt.size))

    def blob(self) -> bytes:
        (size,) = self.unpack(_U32)
        return bytes(self.take(size))


def decode(data: bytes) -> Message:
    reader = _Reader(data)
    try:
        version, mtype, group = reader.unpack(_HEAD)
        if version != RAFT_CODEC_VERSION:
            raise CodecError(f"unsupported raft codec version {version}")
        src = reader.blob().decode()
        dst = reader.blob().decode()
        term, log_term, index, commit, reject, hint = reader.unpack(_NUMS)
        context = reader.blob()
        (count,) = reader.unpack(_U32)
        entries = []
        for _ in range(count):
            e_term, e_index, kind = reader.unpack(_ENTRY)
            entries.append(Entry(e_term, e_index, _ENTRY_KINDS[kind], reader.blob()))
        snapshot = None
        if reader.take(1)[0]:
            s_index, s_term = reader.unpack(_U64x2)
            snapshot = SnapshotMeta(s_index, s_term, Config.decode(reader.blob()))
        if reader.pos != len(data):
            raise CodecError("trailing bytes after raft message")
        return Message(
            MsgType(mtype), src, dst, term, group, log_term, index, tuple(entries), commit,
            bool(reject), hint, context, snapshot,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        if isinstance(error, CodecError):
            raise
        raise CodecError(f"malformed raft message: {error}") from error
