import random

import pytest

from photon_node.core.commands import CodecError, Command, Expect, Kind, decode, encode


@pytest.mark.parametrize(
    "command",
    [
        Command(Kind.PUT, b"k", b"v"),
        Command(Kind.PUT, "ключ/é".encode(), b"\x00" * 1000, Expect.REVISION, 2**63 - 1),
        Command(Kind.PUT, b"k", b"", Expect.ABSENT),
        Command(Kind.DELETE, b"k", b"", Expect.EXISTS),
    ],
)
def test_roundtrip(command):
    assert decode(encode(command)) == command


def test_random_roundtrips():
    rng = random.Random(7)
    for _ in range(500):
        kind = rng.choice(list(Kind))
        command = Command(
            kind,
            rng.randbytes(rng.randint(1, 64)),
            rng.randbytes(rng.randint(0, 256)) if kind is Kind.PUT else b"",
            rng.choice(list(Expect)),
            rng.randint(0, 2**64 - 1),
        )
        assert decode(encode(command)) == command


@pytest.mark.parametrize("cut", [0, 5, 13, 15, 18])
def test_truncation_is_detected(cut):
    data = encode(Command(Kind.PUT, b"key", b"value"))
    with pytest.raises(CodecError):
        decode(data[:cut])


def test_trailing_bytes_and_bad_versions_are_rejected():
    data = encode(Command(Kind.DELETE, b"key"))
    with pytest.raises(CodecError):
        decode(data + b"x")
    with pytest.raises(CodecError):
        decode(b"\x09" + data[1:])
    with pytest.raises(CodecError):
        decode(data[:1] + b"\x07" + data[2:])


def test_envelope_roundtrip_and_damage():
    from photon_node.core.commands import unwrap, wrap

    data = wrap("node-é", 2**63, b"cmd")
    assert unwrap(data) == ("node-é", 2**63, b"cmd")
    for cut in range(len(data) - 3):
        with pytest.raises(CodecError):
            unwrap(data[:cut])
