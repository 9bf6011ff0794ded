import pytest

from photon_node.core.errors import StorageCorrupted
from photon_node.storage import records


def test_roundtrip_and_revision_peek():
    record = records.pack(b"key", 42, b"value")
    assert records.unpack(b"key", record) == (42, b"value")
    assert records.revision_of(b"key", record) == 42
    assert records.revision_of(b"key", None) == 0


@pytest.mark.parametrize("position", [0, 1, 9, 13, 14])
def test_any_flipped_byte_is_detected(position):
    record = bytearray(records.pack(b"key", 7, b"payload"))
    record[position] ^= 0x40
    with pytest.raises(StorageCorrupted):
        records.unpack(b"key", bytes(record))


def test_record_under_another_key_is_detected():
    with pytest.raises(StorageCorrupted):
        records.unpack(b"other", records.pack(b"key", 1, b"v"))


def test_truncated_record_is_detected():
    with pytest.raises(StorageCorrupted):
        records.unpack(b"key", b"\x01\x00")
