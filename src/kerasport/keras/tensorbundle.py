"""TensorFlow's tensor bundle (checkpoint) format, read without TensorFlow.

A checkpoint ``<prefix>`` is ``<prefix>.index`` and ``<prefix>.data-<k>-of-<n>`` shards. The index
is a LevelDB-style sorted table: data blocks of prefix-compressed key/value entries, an index
block pointing at them, a 48-byte footer. The entry with the empty key is a BundleHeaderProto
(shard count, byte order); every other key is a tensor name whose value is a BundleEntryProto
(dtype, shape, shard, offset, size). Every block's checksum (masked CRC-32C) is verified; every
tensor's declared size is checked against its dtype and shape and against the shard's size
before anything is read or allocated. Only the files the format defines are opened.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport.errors import ModelFileError, WeightsError
from kerasport.keras.protos import parse

FOOTER_BYTES = 48
TABLE_MAGIC = 0xDB4775248B80FB57
MAX_INDEX_BYTES = 256 << 20  # an index holds a few hundred bytes per tensor
MAX_RANK = 32
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# TensorFlow DataType enum -> numpy dtype (bfloat16 is widened to float32 on read)
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
          9: np.int64, 10: np.bool_, 14: "bfloat16", 17: np.uint16, 19: np.float16,
          22: np.uint32, 23: np.uint64}
DT_STRING = 7


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def masked_crc32c(data: bytes) -> int:
    """CRC-32C of ``data``, masked the way LevelDB and TensorFlow store it."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A base-128 varint at ``pos``: (value, position after it); ValueError if cut off."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _block(data: bytes, handle: tuple[int, int], where: str) -> bytes:
    offset, size = handle
    if offset + size + 5 > len(data):
        raise ModelFileError(f"{where}: a table block lies past the end of the file; the index "
                             "is truncated")
    contents = data[offset:offset + size]
    kind, crc = struct.unpack_from("<BI", data, offset + size)
    if masked_crc32c(data[offset:offset + size + 1]) != crc:
        raise ModelFileError(f"{where}: checksum mismatch in a table block; the index is "
                             "corrupt")
    if kind != 0:
        raise ModelFileError(f"{where}: compressed table blocks (type {kind}) are not "
                             "supported; TensorFlow writes checkpoint indexes uncompressed")
    return contents


def _entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise ValueError("table block too short")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    if restarts < 1 or end < 0:
        raise ValueError("bad restart array in a table block")
    out, pos, key = [], 0, b""
    while pos < end:
        shared, pos = varint(block, pos)
        fresh, pos = varint(block, pos)
        vlen, pos = varint(block, pos)
        if shared > len(key) or pos + fresh + vlen > end:
            raise ValueError("table entry runs past its block")
        key = key[:shared] + block[pos:pos + fresh]
        out.append((key, block[pos + fresh:pos + fresh + vlen]))
        pos += fresh + vlen
    return out


def _handle(value: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    offset, pos = varint(value, pos)
    size, pos = varint(value, pos)
    return (offset, size), pos


def read_table(data: bytes, where: str) -> dict[str, bytes]:
    """Every key/value of a sorted-table file's bytes (keys decoded as UTF-8)."""
    if len(data) < FOOTER_BYTES:
        raise ModelFileError(f"{where}: {len(data)} bytes, too short for a checkpoint index; "
                             "the file is truncated")
    footer = data[-FOOTER_BYTES:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise ModelFileError(f"{where}: not a TensorFlow checkpoint index (no table magic at "
                             "the end; truncated or another kind of file)")
    try:
        _, pos = _handle(footer)
        index_handle, _ = _handle(footer, pos)
        out: dict[str, bytes] = {}
        for _, value in _entries(_block(data, index_handle, where)):
            for key, val in _entries(_block(data, _handle(value)[0], where)):
                out[key.decode("utf-8")] = val
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{where}: the checkpoint index is corrupt ({exc})") from exc
    return out


@dataclass
class Entry:
    """Where one tensor lies: dtype, shape, shard, offset and size in bytes."""

    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


def _entry(name: str, raw: bytes, where: str) -> Entry:
    try:
        msg = parse("BundleEntryProto", raw)
    except ValueError as exc:
        raise ModelFileError(f"{where}: tensor '{name}': {exc}") from exc
    if msg.slices:
        raise ModelFileError(f"{where}: tensor '{name}' is stored in slices (a partitioned "
                             "variable); kerasport reads whole tensors only")
    dims = [d.size for d in msg.shape.dim]
    if msg.shape.unknown_rank or len(dims) > MAX_RANK or any(d < 0 for d in dims):
        raise ModelFileError(f"{where}: tensor '{name}' has an invalid shape {dims}")
    if msg.offset < 0 or msg.size < 0:
        raise ModelFileError(f"{where}: tensor '{name}' has a negative offset or size")
    return Entry(msg.dtype, tuple(dims), msg.shard_id, msg.offset, msg.size)


class TensorBundle:
    """A checkpoint: ``names()``, ``read(name)``. ``prefix`` is the path without ``.index``."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.where = f"{prefix}.index"
        try:
            size = os.path.getsize(self.where)
            if size > MAX_INDEX_BYTES:
                raise ModelFileError(f"{self.where}: {size} bytes, over the {MAX_INDEX_BYTES} a "
                                     "checkpoint index may have")
            with open(self.where, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ModelFileError(f"cannot read the checkpoint index {self.where}: {exc}") from exc
        table = read_table(data, self.where)
        if "" not in table:
            raise ModelFileError(f"{self.where}: no bundle header; not a TensorFlow checkpoint")
        try:
            header = parse("BundleHeaderProto", table.pop(""))
        except ValueError as exc:
            raise ModelFileError(f"{self.where}: unreadable bundle header ({exc})") from exc
        if header.endianness != 0:
            raise ModelFileError(f"{self.where}: written on a big-endian machine; not supported")
        if not 1 <= header.num_shards <= 100_000:
            raise ModelFileError(f"{self.where}: invalid shard count {header.num_shards}")
        self.num_shards = header.num_shards
        self.entries = {name: _entry(name, raw, self.where) for name, raw in table.items()}

    def names(self) -> list[str]:
        """Every tensor name, sorted."""
        return sorted(self.entries)

    def _shard(self, entry: Entry, name: str) -> str:
        if not 0 <= entry.shard < self.num_shards:
            raise ModelFileError(f"{self.where}: tensor '{name}' names shard {entry.shard} of "
                                 f"{self.num_shards}")
        return f"{self.prefix}.data-{entry.shard:05d}-of-{self.num_shards:05d}"

    def _bytes(self, name: str) -> tuple[Entry, bytes]:
        entry = self.entries.get(name)
        if entry is None:
            raise WeightsError(f"{self.where}: no tensor '{name}' in the checkpoint")
        shard = self._shard(entry, name)
        try:
            available = os.path.getsize(shard)
            if entry.offset + entry.size > available:
                raise ModelFileError(
                    f"{shard}: tensor '{name}' lies at bytes {entry.offset}-"
                    f"{entry.offset + entry.size} but the shard has {available}; the data file "
                    "is truncated")
            with open(shard, "rb") as f:
                f.seek(entry.offset)
                data = f.read(entry.size)
        except OSError as exc:
            raise ModelFileError(f"cannot read checkpoint data {shard}: {exc}") from exc
        if len(data) != entry.size:
            raise ModelFileError(f"{shard}: truncated while reading tensor '{name}'")
        return entry, data

    def read(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a numpy array (bfloat16 widened to float32)."""
        entry = self.entries.get(name)
        if entry is None:
            raise WeightsError(f"{self.where}: no tensor '{name}' in the checkpoint")
        dtype = DTYPES.get(entry.dtype)
        if dtype is None:
            raise ModelFileError(f"{self.where}: tensor '{name}' has TensorFlow dtype "
                                 f"{entry.dtype}, not a number type kerasport reads")
        item = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        count = math.prod(entry.shape)  # exact: numpy would wrap around on hostile dims
        if count * item != entry.size:
            raise ModelFileError(f"{self.where}: tensor '{name}' declares shape {entry.shape} "
                                 f"({count * item} bytes) but a size of {entry.size}")
        _, data = self._bytes(name)
        if dtype == "bfloat16":
            wide = np.frombuffer(data, "<u2").astype(np.uint32) << 16
            return wide.view(np.float32).reshape(entry.shape)
        return np.frombuffer(data, np.dtype(dtype).newbyteorder("<")).reshape(entry.shape)

    def read_string(self, name: str) -> bytes:
        """A scalar string tensor (the serialized object graph)."""
        entry, data = self._bytes(name)
        if entry.dtype != DT_STRING or entry.shape:
            raise ModelFileError(f"{self.where}: '{name}' is not a scalar string tensor")
        try:
            length, pos = varint(data, 0)
        except ValueError as exc:
            raise ModelFileError(f"{self.where}: '{name}' is corrupt ({exc})") from exc
        if pos + 4 + length != len(data):  # the length's own checksum follows it
            raise ModelFileError(f"{self.where}: '{name}' declares {length} bytes but "
                                 f"{len(data) - pos - 4} are stored")
        return data[pos + 4:]

    def object_graph(self) -> Any:
        """The checkpoint's TrackableObjectGraph (the objects the variables belong to)."""
        if OBJECT_GRAPH_KEY not in self.entries:
            raise ModelFileError(f"{self.where}: no object graph ({OBJECT_GRAPH_KEY}): a "
                                 "name-based TF1 checkpoint, which kerasport cannot match to "
                                 "Keras layers; save the weights with tf_keras save_weights")
        try:
            return parse("TrackableObjectGraph", self.read_string(OBJECT_GRAPH_KEY))
        except ValueError as exc:
            raise ModelFileError(f"{self.where}: unreadable object graph ({exc})") from exc


def checkpoint_prefix(path: str) -> str:
    """The prefix of a checkpoint given by its ``.index``, one ``.data-*`` shard or prefix."""
    if path.endswith(".index"):
        return path[: -len(".index")]
    head, sep, _ = path.rpartition(".data-")
    if sep and os.path.exists(path):
        return head
    return path


def is_checkpoint(path: str) -> bool:
    """Whether ``path`` names a TF-format checkpoint (its index exists)."""
    return os.path.isfile(checkpoint_prefix(path) + ".index")
