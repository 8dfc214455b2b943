"""Safe reading of zip archives (.keras files and bundles): refuse path traversal, encrypted or
exotic entries and zip bombs before anything is decompressed, and turn every zipfile, zlib,
lzma or bz2 failure into a kerasport error naming the file."""

from __future__ import annotations

import contextlib
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

import numpy as np

from kerasport.errors import InputError, KerasportError, ModelFileError
from kerasport.io import budget_hint, byte_budget, read_npy_stream

MAX_ENTRIES = 20_000  # a .keras file holds a handful, a bundle two per weight
# zipfile's own failures, and those of the decompressors it drives
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
              RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError, UnicodeError,
              OverflowError, KeyError, IndexError, TypeError, AttributeError, MemoryError)
SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")
            or "\x00" in name)


def check_archive(zf: zipfile.ZipFile, path: str,
                  error: type[KerasportError] = ModelFileError) -> None:
    """Raise ``error`` if any entry of ``zf`` is unsafe, or if the archive declares more bytes
    than its size allows (see kerasport.io's budget)."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise error(f"{path}: {len(infos)} zip entries, over the limit of {MAX_ENTRIES}")
    try:
        size = os.path.getsize(path) if isinstance(path, str) else 0
    except OSError:
        size = 0
    budget = byte_budget(size)
    total = 0
    seen = set()
    for info in infos:
        name = info.filename
        if _unsafe_name(name):
            raise error(f"{path}: refusing zip entry with an unsafe path: {name!r}")
        if name in seen:
            raise error(f"{path}: zip entry {name!r} appears twice")
        seen.add(name)
        if info.flag_bits & 0x1:
            raise error(f"{path}: zip entry {name!r} is encrypted; kerasport reads plain "
                        "archives only")
        if info.compress_type not in SUPPORTED_METHODS:
            raise error(f"{path}: zip entry {name!r} uses compression method "
                        f"{info.compress_type}; only stored and deflated entries are read "
                        "(Keras and NumPy write nothing else)")
        total += info.file_size
        if total > budget:
            raise error(f"{path}: the archive declares {total} bytes uncompressed (at "
                        f"{name!r}) from a {size} byte file, over the budget of {budget} "
                        f"bytes: a zip bomb or a corrupt header; {budget_hint()}")


def open_archive(path: str, error: type[KerasportError] = ModelFileError) -> zipfile.ZipFile:
    """Open and check a zip archive, turning every failure into ``error``."""
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise error(f"{path}: not a readable zip archive ({type(exc).__name__}: {exc}); the "
                    "file may be truncated or corrupt") from exc
    try:
        check_archive(zf, path, error)
    except BaseException:
        zf.close()
        raise
    return zf


@contextlib.contextmanager
def open_entry(zf: zipfile.ZipFile, name: str, path: str,
               error: type[KerasportError] = ModelFileError) -> Iterator[IO[bytes]]:
    """A stream of one entry; corruption (bad CRC, deflate errors, truncation) anywhere while
    it is read becomes ``error``."""
    try:
        with zf.open(name) as f:
            yield f
    except KerasportError:
        raise
    except KeyError as exc:
        raise error(f"{path}: missing '{name}' inside the archive") from exc
    except ZIP_ERRORS as exc:
        raise error(f"{path}: entry '{name}' is corrupt or truncated "
                    f"({type(exc).__name__}: {exc})") from exc


def read_entry(zf: zipfile.ZipFile, name: str, path: str,
               error: type[KerasportError] = ModelFileError) -> bytes:
    """Read one entry in chunks, never past the size its (checked) header declares."""
    try:
        info = zf.getinfo(name)
    except KeyError as exc:
        raise error(f"{path}: missing '{name}' inside the archive") from exc
    with open_entry(zf, name, path, error) as f:
        parts = []
        left = info.file_size
        while left > 0:
            chunk = f.read(min(left, 1 << 24))
            if not chunk:
                raise error(f"{path}: entry '{name}' is truncated")
            parts.append(chunk)
            left -= len(chunk)
        if f.read(1):
            raise error(f"{path}: entry '{name}' holds more than its declared size")
    return b"".join(parts)


def read_npz(path: str, error: type[KerasportError] = InputError,
             names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Every array of a .npz file (or those in ``names``), each checked before allocation;
    the archive is checked for unsafe entries and its total against the byte budget."""
    out: dict[str, np.ndarray] = {}
    with open_archive(path, error) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        keys = [n for n in infos if n.endswith(".npy")]
        if names is not None:
            keys = [f"{n}.npy" for n in names if f"{n}.npy" in infos]
        for key in keys:
            info = infos[key]
            with open_entry(zf, key, path, error) as f:
                out[key[:-4]] = read_npy_stream(_Seekless(f), info.file_size,
                                                f"{path}:{key}", error)
    return out


class _Seekless:
    """A zip entry stream whose ``tell`` counts what was read (a deflated entry's own tell/seek
    re-decompresses); enough for :func:`read_npy_stream`."""

    def __init__(self, f: IO[bytes]):
        self.f = f
        self.pos = 0

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def readinto(self, buf: bytearray) -> int:
        view = memoryview(buf)
        total = 0
        while total < len(buf):
            chunk = self.f.read(min(len(buf) - total, 1 << 24))
            if not chunk:
                break
            view[total:total + len(chunk)] = chunk
            total += len(chunk)
        self.pos += total
        return total
