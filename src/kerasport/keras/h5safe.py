"""Opening HDF5 files so that they can only cost what they hold.

Before any weight is read, :func:`open_h5` walks every link and object once and refuses:
external links and soft links (an HDF5 file could otherwise make kerasport read another file on
the machine), datasets with external storage or virtual (mapped) layouts, non-numeric or
compound datasets, absurd ranks, more objects or nesting than any model has, and declared sizes
over the file's byte budget (kerasport.io). After that scan, reading is safe: nothing is
reachable that was not checked. Every h5py/libhdf5 failure becomes a ModelFileError naming the
file.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time
from typing import Any

import h5py
import numpy as np

from kerasport.errors import KerasportError, ModelFileError
from kerasport.io import MAX_ARRAY_RANK, budget_hint, byte_budget

MAX_OBJECTS = 200_000
MAX_DEPTH = 64
MAX_ATTR_BYTES = 64 << 20
PROBE_BASE_SECONDS = 3.0
# what h5py and libhdf5 raise on damaged files
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError,
             AttributeError, UnicodeError, OverflowError, SystemError)


def _declared_bytes(shape: tuple | None, dtype: np.dtype) -> int:
    count = 1
    for d in shape or ():
        count *= int(d)
    return count * max(int(dtype.itemsize), 1)


class _Scan:
    def __init__(self, where: str, budget: int, read_all: bool = False):
        self.where = where
        self.budget = budget
        self.read_all = read_all  # also read every attribute value and dataset (the probe)
        self.objects = 0
        self.total = 0

    def fail(self, what: str) -> None:
        raise ModelFileError(f"{self.where}: {what}")

    def attrs(self, obj: Any, path: str) -> None:
        for name in obj.attrs:
            aid = h5py.h5a.open(obj.id, name.encode() if isinstance(name, str) else name)
            size = _declared_bytes(aid.shape, aid.dtype)
            if size > MAX_ATTR_BYTES:
                self.fail(f"attribute '{name}' of '{path}' declares {size} bytes")
            if self.read_all:
                obj.attrs[name]

    def dataset(self, ds: h5py.Dataset, path: str) -> None:
        if ds.is_virtual:
            self.fail(f"dataset '{path}' is a virtual dataset (mapped from other files); "
                      "kerasport reads only the file it is given")
        if ds.external:
            self.fail(f"dataset '{path}' keeps its data in an external file "
                      f"({ds.external[0][0]!r}); kerasport reads only the file it is given")
        dtype = ds.dtype
        if dtype.kind not in "biuf" and not (dtype.kind in "SO" and h5py.check_string_dtype(
                dtype) is not None):
            self.fail(f"dataset '{path}' has dtype {dtype}, not a numeric weight")
        shape = ds.shape
        if shape is not None and len(shape) > MAX_ARRAY_RANK:
            self.fail(f"dataset '{path}' has rank {len(shape)}")
        size = _declared_bytes(shape, dtype)
        self.total += size
        if self.total > self.budget:
            self.fail(f"dataset '{path}' declares shape {shape} ({size} bytes): the file's "
                      f"datasets declare more than its budget of {self.budget} bytes; the "
                      f"file is corrupt or hostile; {budget_hint()}")
        if self.read_all and dtype.kind in "biuf":
            ds[()]

    def group(self, group: h5py.Group, path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.fail(f"groups nested more than {MAX_DEPTH} deep at '{path}'")
        self.attrs(group, path)
        for key in group:
            self.objects += 1
            if self.objects > MAX_OBJECTS:
                self.fail(f"more than {MAX_OBJECTS} HDF5 objects")
            child = f"{path.rstrip('/')}/{key}"
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                self.fail(f"'{child}' is an external link to {link.filename!r}; kerasport "
                          "reads only the file it is given")
            if isinstance(link, h5py.SoftLink):
                self.fail(f"'{child}' is a soft link to {link.path!r}; model files hold no "
                          "links, and kerasport follows none")
            obj = group.get(key)
            if isinstance(obj, h5py.Group):
                self.group(obj, child, depth + 1)
            elif isinstance(obj, h5py.Dataset):
                self.attrs(obj, child)
                self.dataset(obj, child)
            else:
                self.fail(f"'{child}' is neither a group nor a dataset")


def check_h5(h5: h5py.File, where: str, file_bytes: int, read_all: bool = False) -> None:
    """Walk every object of ``h5`` once and raise ModelFileError on anything unsafe (with
    ``read_all``, also read every attribute value and numeric dataset)."""
    scan = _Scan(where, byte_budget(file_bytes), read_all)
    try:
        scan.group(h5, "/", 0)
    except KerasportError:
        raise
    except RecursionError as exc:
        raise ModelFileError(f"{where}: HDF5 groups nested too deeply") from exc
    except H5_ERRORS as exc:
        raise ModelFileError(f"{where}: the HDF5 data is corrupt ({type(exc).__name__}: "
                             f"{exc})") from exc


def _open(data: Any, where: str) -> h5py.File:
    try:
        # no file locking: reading must work on read-only media and never block on a lock
        return h5py.File(data, "r", locking=False)
    except H5_ERRORS as exc:
        raise ModelFileError(f"{where}: the HDF5 data is corrupt or truncated ({exc})") from exc


def _open_and_check(data: Any, where: str, file_bytes: int, read_all: bool) -> h5py.File:
    h5 = _open(data, where)
    try:
        check_h5(h5, where, file_bytes, read_all)
    except BaseException:
        h5.close()
        raise
    return h5


def probe_seconds(file_bytes: int) -> float:
    """How long the probe may take: a few seconds, plus one per 20 MB of file."""
    return PROBE_BASE_SECONDS + file_bytes / 20e6


def _probe(data: Any, where: str, file_bytes: int) -> bool:
    """Do every read the reader will do (open, scan, every attribute and dataset) in a forked
    child with a deadline first: a corrupt HDF5 file can make libhdf5 spin forever or crash
    inside one call, which no in-process check can interrupt. libhdf5 is deterministic, so
    once the child got through, the same reads are safe here. False if no probe ran."""
    if not hasattr(os, "fork") or sys.platform != "linux" or os.environ.get(
            "KERASPORT_NO_HDF5_PROBE"):
        return False
    read_fd, write_fd = os.pipe()
    lock = getattr(getattr(h5py, "_objects", None), "phil", None)
    with lock if lock is not None else contextlib.nullcontext():
        pid = os.fork()
    if pid == 0:
        _probe_child(data, where, file_bytes, read_fd, write_fd)
    os.close(write_fd)
    status, code = _probe_result(pid, read_fd, where, file_bytes)
    if status == b"ok":
        return True
    if not status:
        raise ModelFileError(f"{where}: the HDF5 library crashed reading this file (exit "
                             f"status {code}); the file is corrupt")
    kind, _, message = status.decode("utf-8", "replace").partition("\0")
    if kind in ("ModelFileError", "WeightsError"):
        raise ModelFileError(message)
    raise ModelFileError(f"{where}: the HDF5 data is corrupt ({kind}: {message[:300]})")


def _probe_child(data: Any, where: str, file_bytes: int, read_fd: int, write_fd: int) -> None:
    """The forked child: read everything, report "ok" or the error, and leave without
    running the parent's exit handlers."""
    status = b"ok"
    try:
        # the child ends itself if the parent is gone and nobody kills it (SIGALRM's default
        # action, whatever handler the parent installed)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(probe_seconds(file_bytes)) + 2)
        os.close(read_fd)
        if hasattr(data, "seek"):
            data.seek(0)
        _open_and_check(data, where, file_bytes, read_all=True).close()
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        status = f"{type(exc).__name__}\0{exc}".encode("utf-8", "replace")[:4000]
    finally:
        try:
            os.write(write_fd, status)
        finally:
            os._exit(0)


def _probe_result(pid: int, read_fd: int, where: str, file_bytes: int) -> tuple[bytes, int]:
    """The child's report and exit status, waiting at most probe_seconds; the child is killed
    on timeout or interrupt, never left running."""
    deadline = time.monotonic() + probe_seconds(file_bytes)
    chunks: list[bytes] = []
    code = 0
    try:
        while True:
            ready, _, _ = select.select([read_fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise ModelFileError(
                    f"{where}: the HDF5 library did not finish reading this file's metadata "
                    f"in {probe_seconds(file_bytes):.0f} s (it loops on corrupt structures); "
                    "the file is corrupt")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:  # (also on KeyboardInterrupt: never leave the child spinning)
        os.close(read_fd)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            done, code = os.waitpid(pid, os.WNOHANG)
            if not done:
                os.kill(pid, signal.SIGKILL)
                _, code = os.waitpid(pid, 0)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return b"".join(chunks), code


def open_h5(data: Any, where: str, file_bytes: int | None = None) -> h5py.File:
    """Open HDF5 ``data`` (a path or a file object) read-only and check it with
    :func:`check_h5` (after a probe in a child process, see :func:`_probe`); ``where`` names
    the file in messages."""
    if file_bytes is None:
        file_bytes = os.path.getsize(data) if isinstance(data, str) else 0
    probed = _probe(data, where, file_bytes)
    if hasattr(data, "seek"):
        data.seek(0)
    if not probed:
        return _open_and_check(data, where, file_bytes, read_all=False)
    return _open(data, where)  # the child checked this very file: it is safe to read


def read_attr(h5: h5py.Group, name: str, where: str) -> Any:
    """An attribute's value (None if absent), failures as ModelFileError."""
    try:
        if name not in h5.attrs:
            return None
        return h5.attrs[name]
    except H5_ERRORS as exc:
        raise ModelFileError(f"{where}: cannot read the HDF5 attribute '{name}' "
                             f"({type(exc).__name__}: {exc})") from exc


def text_attr(h5: h5py.Group, name: str, where: str) -> str | None:
    """A string attribute (bytes decoded as UTF-8), or None if absent."""
    raw = read_attr(h5, name, where)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) and raw.ndim == 0:
        raw = raw[()]
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"{where}: the attribute '{name}' is not UTF-8 text") from exc
    if isinstance(raw, str):
        return raw
    raise ModelFileError(f"{where}: the attribute '{name}' holds {type(raw).__name__} "
                         f"data, not text")
