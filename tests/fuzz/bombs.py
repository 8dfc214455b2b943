"""Zip bombs that stay under a compression-ratio limit: a real entry's bytes followed by a
long tail of zeros sprinkled with incompressible bytes, so the ratio is about ``RATIO``.

The compressed tail is built once per size and cached; an entry is the real prefix deflated
with a sync flush (byte-aligned, not final) followed by the cached tail (a fresh deflate
stream: it refers to nothing before it), so building a mutant costs only a CRC pass.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

CHUNK = 1 << 20
RATIO = 420  # under kerasport's MAX_RATIO of 500
SIZES = [300 << 20, 1 << 30]


def _chunk() -> bytes:
    noise = CHUNK // RATIO - CHUNK // 1030  # deflate gives zeros about 1030:1
    return random.Random(0).randbytes(noise) + bytes(CHUNK - noise)


def tail(cache: Path, size: int) -> bytes:
    """The deflated tail of ``size`` bytes (cached under ``cache``/bombs)."""
    path = cache / "bombs" / f"tail-{size}-{RATIO}.deflate"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = _chunk()
    parts = [comp.compress(chunk) for _ in range(size // CHUNK)]
    parts.append(comp.flush())
    data = b"".join(parts)
    tmp = path.with_suffix(f".tmp{random.randrange(1 << 30)}")
    tmp.write_bytes(data)
    tmp.rename(path)
    return data


def entry(cache: Path, prefix: bytes, size: int) -> tuple[int, bytes, int]:
    """(crc, deflated data, uncompressed size) of ``prefix`` + a ``size``-byte tail."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(prefix) + comp.flush(zlib.Z_SYNC_FLUSH)
    crc = zlib.crc32(prefix)
    chunk = _chunk()
    for _ in range(size // CHUNK):
        crc = zlib.crc32(chunk, crc)
    return crc, head + tail(cache, size), len(prefix) + (size // CHUNK) * CHUNK


def npy_header(shape: tuple[int, ...], descr: str = "<f4", fortran: bool = False,
               version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy header (magic, version, length, dict) declaring any shape and dtype."""
    text = f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    if version == (1, 0):
        pad = 64 - (10 + len(text) + 1) % 64
        body = (text + " " * pad + "\n").encode("latin1")
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body
    pad = 64 - (12 + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin1" if version[0] < 3 else "utf8")
    return b"\x93NUMPY" + bytes(version) + len(body).to_bytes(4, "little") + body


def bomb_prefix(name: str, content: bytes, size: int) -> bytes:
    """What the bomb entry starts with, so its head parses: an .npy header declaring the
    whole entry, or the real content (JSON, HDF5) that the tail then extends."""
    if name.endswith(".npy"):
        if name == "__kerasport__.npy":
            body = content[content.index(b"\n") + 1:] if content.startswith(b"\x93NUMPY") \
                else content
            return npy_header((len(body) + size,), "|u1") + body
        return npy_header((size // 4,), "<f4")
    return content
