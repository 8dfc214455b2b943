"""Files in and out, safely: atomic writes with ordinary permissions, .npy/.npz reading that
checks every declared size before allocating (.npz archives: kerasport._zip.read_npz), and
the budgets a model file may cost.

Budgets: a file may expand to at most ``max(FLOOR_BYTES, expansion() * its size)`` bytes
(zip entries, HDF5 datasets, arrays), never more than ``HARD_LIMIT_BYTES``. Float weights do
not compress, so honest files stay far below; a zip or HDF5 bomb is refused before anything is
decompressed or allocated. ``KERASPORT_MAX_EXPANSION`` raises the ratio for a trusted file that
is mostly zeros.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from kerasport.errors import InputError, KerasportError, ModelFileError

HARD_LIMIT_BYTES = 8 << 30
FLOOR_BYTES = 256 << 20
DEFAULT_EXPANSION = 64
MAX_ARRAY_RANK = 32
NUMERIC_KINDS = "biufc"


def expansion() -> int:
    """The allowed ratio of decoded bytes to file bytes (``KERASPORT_MAX_EXPANSION``)."""
    try:
        return max(1, int(os.environ.get("KERASPORT_MAX_EXPANSION", DEFAULT_EXPANSION)))
    except ValueError:
        return DEFAULT_EXPANSION


def byte_budget(file_bytes: int) -> int:
    """How many decoded bytes a file of ``file_bytes`` may hold in all."""
    return min(HARD_LIMIT_BYTES, max(FLOOR_BYTES, expansion() * int(file_bytes)))


def budget_hint() -> str:
    """What to tell a user whose trusted file is over budget."""
    return ("if you trust this file (e.g. weights that are mostly zeros), set "
            "KERASPORT_MAX_EXPANSION to a larger ratio")


# -- writing ------------------------------------------------------------------------------

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _plain_mode(tmp: str) -> None:
    """Give ``tmp`` the permissions ``open(path, "w")`` would have (mkstemp makes 0600)."""
    os.chmod(tmp, 0o666 & ~_umask())


def atomic_write(path: str, write: Callable[[str], Any]) -> None:
    """Call ``write(tmp_path)``, then rename it to ``path``: a failure leaves no partial file,
    and the file ends with the permissions a plain ``open()`` would have given it."""
    with staged_output(path) as tmp:
        write(tmp)


@contextlib.contextmanager
def staged_output(path: str) -> Iterator[str]:
    """A temporary path beside ``path`` to write and check an output at; it is renamed to
    ``path`` only if the block succeeds (so nothing appears until every check passed)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kerasport-", suffix=os.path.splitext(path)[1] or ".tmp",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        _plain_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def staged_directory(path: str) -> Iterator[str]:
    """A temporary directory whose files are moved into ``path`` (created if needed) only if
    the block succeeds; a failure leaves ``path`` as it was."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".kerasport-", dir=parent)
    try:
        yield tmp
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(tmp):
            src = os.path.join(tmp, name)
            _plain_mode(src)
            os.replace(src, os.path.join(path, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- reading arrays -----------------------------------------------------------------------


def _read_header(f: IO[bytes], where: str, error: type[KerasportError]) -> tuple:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except Exception as exc:  # numpy parses the header as Python literals: any failure
        raise error(f"{where}: not a readable .npy array ({type(exc).__name__}: "
                    f"{str(exc)[:200]})") from exc
    if dtype.hasobject or dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
        raise error(f"{where}: holds a {dtype} array; only plain numeric arrays are read "
                    "(never pickled objects)")
    if len(shape) > MAX_ARRAY_RANK or any(not isinstance(d, int) or d < 0 for d in shape):
        raise error(f"{where}: invalid array shape {shape}")
    return tuple(shape), fortran, dtype


def read_npy_stream(f: IO[bytes], available: int, where: str,
                    error: type[KerasportError] = ModelFileError) -> np.ndarray:
    """One .npy array from ``f`` (which tells its position), whose whole stored size is
    ``available`` bytes: the header's shape and dtype must account for exactly that size
    before anything is allocated."""
    start = f.tell()
    shape, fortran, dtype = _read_header(f, where, error)
    stored = available - (f.tell() - start)
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    if nbytes != stored:
        raise error(f"{where}: the header declares {shape} {dtype} ({nbytes} bytes) but "
                    f"{stored} bytes are stored; the file is truncated or corrupt")
    buf = bytearray(nbytes)
    try:
        got = f.readinto(buf) if nbytes else 0
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise error(f"{where}: truncated or corrupt data ({exc})") from exc
    if got != nbytes:
        raise error(f"{where}: truncated: {got} of {nbytes} bytes")
    arr = np.frombuffer(buf, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C")


def read_npy(path: str, error: type[KerasportError] = InputError) -> np.ndarray:
    """A .npy file, checked (see :func:`read_npy_stream`)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            return read_npy_stream(f, size, path, error)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc}") from exc
