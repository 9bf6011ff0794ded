"""State-machine commands and their versioned binary codec (no pickle, ever).

A command is what a client write becomes before it is made durable: the single-node log applies
it directly, the Raft log will carry the same bytes. Encoding (big-endian):

    u8 codec version | u8 kind | u8 expect-kind | u64 expected revision | u16 key length | key
    | u32 value length | value                     (value only for PUT)

Results are computed at apply time, deterministically from the state, so every replica that
applies the same commands in the same order reaches the same revisions and outcomes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

CODEC_VERSION = 1


class Kind(IntEnum):
    PUT = 1
    DELETE = 2


class Expect(IntEnum):
    ANY = 0  # unconditional
    REVISION = 1  # key must exist at exactly this revision (If-Match)
    ABSENT = 2  # key must not exist (If-None-Match: *)
    EXISTS = 3  # key must exist, at any revision (If-Match: *)


@dataclass(frozen=True, slots=True)
class Command:
    kind: Kind
    key: bytes
    value: bytes = b""
    expect: Expect = Expect.ANY
    expected_revision: int = 0

    @property
    def size(self) -> int:
        return len(self.key) + len(self.value)

    @property
    def blind(self) -> bool:
        """An unconditional PUT: its effect does not depend on the key's current state."""
        return self.kind is Kind.PUT and self.expect is Expect.ANY


class Outcome(IntEnum):
    OK = 0
    PRECONDITION_FAILED = 1
    NOT_FOUND = 2


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    revision: int  # the new revision on OK, else the key's current revision (0 if absent)
    created: bool = False


def precondition_holds(command: Command, current_revision: int) -> bool:
    """Does the command's precondition hold for a key now at current_revision (0: absent)?"""
    if command.expect is Expect.REVISION:
        return current_revision == command.expected_revision
    if command.expect is Expect.ABSENT:
        return current_revision == 0
    if command.expect is Expect.EXISTS:
        return current_revision != 0
    return True


_ENVELOPE = struct.Struct(">BH")
_REQUEST = struct.Struct(">Q")
ENVELOPE_VERSION = 1


def wrap(origin: str, request_id: int, command: bytes) -> bytes:
    """A log entry's data: the command plus who proposed it (node id, request id), so the
    proposing node can answer its client when it applies the entry, wherever it was appended."""
    name = origin.encode()
    return _ENVELOPE.pack(ENVELOPE_VERSION, len(name)) + name + _REQUEST.pack(request_id) + command


def unwrap(data: bytes) -> tuple[str, int, bytes]:
    if len(data) < _ENVELOPE.size:
        raise CodecError("entry shorter than its envelope")
    version, size = _ENVELOPE.unpack_from(data)
    if version != ENVELOPE_VERSION:
        raise CodecError(f"unsupported envelope version {version}")
    start = _ENVELOPE.size
    try:
        origin = data[start : start + size].decode()
        (request_id,) = _REQUEST.unpack_from(data, start + size)
    except (struct.error, UnicodeDecodeError) as error:
        raise CodecError(f"malformed envelope: {error}") from error
    return origin, request_id, data[start + size + _REQUEST.size :]


_HEADER = struct.Struct(">BBBQH")
_VALUE_LEN = struct.Struct(">I")


class CodecError(ValueError):
    pass


def encode(command: Command) -> bytes:
    head = _HEADER.pack(
        CODEC_VERSION, command.kind, command.expect, command.expected_revision, len(command.key)
    )
    if command.kind is Kind.PUT:
        return b"".join((head, command.key, _VALUE_LEN.pack(len(command.value)), command.value))
    return head + command.key


_KINDS = {member.value: member for member in Kind}  # a dict lookup, not an Enum call
_EXPECTS = {member.value: member for member in Expect}


def decode(data: bytes) -> Command:
    if len(data) < _HEADER.size:
        raise CodecError("command shorter than its header")
    version, kind, expect, revision, key_len = _HEADER.unpack_from(data)
    if version != CODEC_VERSION:
        raise CodecError(f"unsupported command codec version {version}")
    kind, expect = _KINDS.get(kind), _EXPECTS.get(expect)
    if kind is None or expect is None:
        raise CodecError("unknown command kind or precondition")
    offset = _HEADER.size + key_len
    key = data[_HEADER.size : offset]
    if len(key) != key_len:
        raise CodecError("truncated key")
    value = b""
    if kind is Kind.PUT:
        if len(data) < offset + _VALUE_LEN.size:
            raise CodecError("truncated value length")
        (value_len,) = _VALUE_LEN.unpack_from(data, offset)
        offset += _VALUE_LEN.size
        value = data[offset : offset + value_len]
        if len(value) != value_len:
            raise CodecError("truncated value")
        offset += value_len
    if offset != len(data):
        raise CodecError("trailing bytes after command")
    return Command(kind, bytes(key), bytes(value), expect, revision)
