"""Safe reading of zip archives (.keras files and bundles): refuse path traversal, absurd sizes
and zip bombs before anything is decompressed."""

from __future__ import annotations

import zipfile

from kerasport.errors import ModelFileError

MAX_ENTRY_BYTES = 8 << 30  # 8 GiB: larger than any model we expect, small enough to refuse bombs
MAX_RATIO = 500  # uncompressed / compressed: float weights compress far less than this
BOMB_MIN_BYTES = 256 << 20  # the ratio is only checked for entries at least this large


def check_archive(zf: zipfile.ZipFile, path: str) -> None:
    """Raise ModelFileError if any entry of ``zf`` is unsafe."""
    total = 0
    for info in zf.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or (
                len(name) > 1 and name[1] == ":"):
            raise ModelFileError(f"{path}: refusing zip entry with an unsafe path: {name!r}")
        if info.file_size > MAX_ENTRY_BYTES:
            raise ModelFileError(
                f"{path}: zip entry {name!r} declares {info.file_size} bytes, over the "
                f"{MAX_ENTRY_BYTES} byte limit")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and (
                info.file_size >= BOMB_MIN_BYTES):
            raise ModelFileError(f"{path}: zip entry {name!r} looks like a zip bomb "
                                 f"({info.file_size} bytes from {info.compress_size})")
        total += info.file_size
    if total > MAX_ENTRY_BYTES:
        raise ModelFileError(f"{path}: archive declares {total} bytes in all, over the limit")


def open_archive(path: str) -> zipfile.ZipFile:
    """Open and check a zip archive, turning every failure into a ModelFileError."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable zip archive ({exc}); the file may be "
                             "truncated or corrupt") from exc
    try:
        check_archive(zf, path)
    except Exception:
        zf.close()
        raise
    return zf


def read_entry(zf: zipfile.ZipFile, name: str, path: str) -> bytes:
    """Read one entry, reporting truncation or corruption as a ModelFileError."""
    try:
        return zf.read(name)
    except KeyError as exc:
        raise ModelFileError(f"{path}: missing '{name}' inside the archive") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{path}: entry '{name}' is corrupt or truncated ({exc})") from exc
