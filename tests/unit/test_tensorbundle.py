"""The TF-free checkpoint pieces without TensorFlow: CRC-32C, the sorted-table format (a table
written here by the LevelDB layout: prefix-compressed entries, restart array, block trailers,
index block, footer), the runtime-built protobuf messages and a whole tensor bundle."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from kerasport.errors import ModelFileError
from kerasport.keras import tensorbundle as tb

pytest.importorskip("google.protobuf")
from kerasport.keras.protos import _classes, parse  # noqa: E402


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    out, prev = bytearray(), b""
    for key, value in entries:
        shared = 0
        while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
            shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        prev = key
    return bytes(out) + struct.pack("<II", 0, 1)  # one restart point at 0


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", tb.masked_crc32c(block + b"\x00"))


def write_table(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A sorted-table file holding ``entries`` (sorted by key) in one data block."""
    data = _block(entries)
    out = _with_trailer(data)
    meta_at = len(out)
    meta = _block([])
    out += _with_trailer(meta)
    index_at = len(out)
    index = _block([(entries[-1][0], _varint(0) + _varint(len(data)))])
    out += _with_trailer(index)
    handles = _varint(meta_at) + _varint(len(meta)) + _varint(index_at) + _varint(len(index))
    return out + handles.ljust(40, b"\x00") + struct.pack("<Q", tb.TABLE_MAGIC)


def test_crc32c_known_value():
    crc = 0xE3069283  # CRC-32C of b"123456789" (RFC 3720)
    masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert tb.masked_crc32c(b"123456789") == masked


def test_table_round_trip():
    entries = sorted((f"layer_{i}/kernel".encode(), bytes([i]) * i) for i in range(20))
    assert tb.read_table(write_table(entries), "t.index") == {
        k.decode(): v for k, v in entries}


def test_table_damage_is_a_model_file_error():
    data = write_table([(b"a", b"1"), (b"b", b"2")])
    with pytest.raises(ModelFileError, match="truncated|no table magic"):
        tb.read_table(data[:-3], "t.index")
    flipped = bytearray(data)
    flipped[2] ^= 0x40
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        tb.read_table(bytes(flipped), "t.index")


def _entry(dtype: int, shape: tuple[int, ...], offset: int, size: int) -> bytes:
    msg = _classes()["BundleEntryProto"](dtype=dtype, offset=offset, size=size)
    for d in shape:
        msg.shape.dim.add(size=d)
    return msg.SerializeToString()


def test_bundle_reads_tensors(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, -2], dtype=np.int64)
    header = _classes()["BundleHeaderProto"](num_shards=1).SerializeToString()
    entries = sorted([(b"", header), (b"a", _entry(1, (2, 3), 0, a.nbytes)),
                      (b"b", _entry(9, (2,), a.nbytes, b.nbytes))])
    (tmp_path / "w.index").write_bytes(write_table(entries))
    (tmp_path / "w.data-00000-of-00001").write_bytes(a.tobytes() + b.tobytes())
    bundle = tb.TensorBundle(str(tmp_path / "w"))
    assert bundle.names() == ["a", "b"]
    np.testing.assert_array_equal(bundle.read("a"), a)
    np.testing.assert_array_equal(bundle.read("b"), b)


@pytest.mark.parametrize(("shape", "size", "match"), [
    ((1 << 20, 1 << 20), 24, "declares shape"),   # shape and size disagree
    ((1 << 32, 1 << 32), 0, "declares shape"),    # a product that wraps to 0 in int64
    ((4,), 16, "truncated"),                       # more than the shard holds
])
def test_bundle_checks_sizes_before_reading(tmp_path, shape, size, match):
    header = _classes()["BundleHeaderProto"](num_shards=1).SerializeToString()
    entries = [(b"", header), (b"a", _entry(1, shape, 8, size))]
    (tmp_path / "w.index").write_bytes(write_table(entries))
    (tmp_path / "w.data-00000-of-00001").write_bytes(b"\x00" * 16)
    with pytest.raises(ModelFileError, match=match):
        tb.TensorBundle(str(tmp_path / "w")).read("a")


def test_protobuf_garbage_is_value_error():
    with pytest.raises(ValueError, match="not a valid"):
        parse("TrackableObjectGraph", b"\x0a\xff\xff\xff\xff\x0f")
