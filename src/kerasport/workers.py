"""A model as bytes, for workers: the bundle file's bytes and their digest, loaded once per
worker process (per engine) and kept in a small cache.

Dask and Ray send a ``Payload`` to each worker once; ``load_payload`` turns it back into a
Model the first time a worker needs it, through the same checks as ``kerasport.load``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kerasport.api import load
from kerasport.bundle import is_bundle, load_bundle
from kerasport.engines import check_engine_name, use_engine
from kerasport.errors import KerasportError, ModelFileError
from kerasport.keras.files import guarded
from kerasport.model import Model

CACHE_SIZE = 4  # models kept per process (payload digest, engine, threads)
_CACHE: OrderedDict[tuple[str, str, int | None], Model] = OrderedDict()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Payload:
    """A kerasport bundle as bytes, with its SHA-256 (the cache key on workers)."""

    data: bytes
    digest: str

    def __repr__(self) -> str:
        return f"<kerasport.Payload {len(self.data) / 1e6:.2f} MB {self.digest[:12]}>"


def _from_bytes(data: bytes) -> Payload:
    return Payload(bytes(data), hashlib.sha256(data).hexdigest())


def to_payload(model: Any) -> Payload:
    """A Payload from a Model (saved as a bundle, with its reference), a bundle's bytes, a
    path to a bundle or model file, or a Payload (returned as is)."""
    if isinstance(model, Payload):
        return model
    if isinstance(model, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(model))
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if os.path.isfile(path) and is_bundle(path):
            with open(path, "rb") as f:
                return _from_bytes(f.read())
        model = load(path)  # a .keras/.h5 file: converted once, here
    if not isinstance(model, Model):
        raise KerasportError(f"expected a kerasport Model, a bundle (bytes or path) or a model "
                             f"file path, got {type(model).__name__}")
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "model.npz")
        model.save(path)
        with open(path, "rb") as f:
            return _from_bytes(f.read())


def _load(payload: Payload) -> Model:
    if hashlib.sha256(payload.data).hexdigest() != payload.digest:
        raise ModelFileError("the model payload does not match its digest (corrupted in "
                             "transit?)")
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "model.npz")
        with open(path, "wb") as f:
            f.write(payload.data)
        if not is_bundle(path):
            raise ModelFileError("the model payload is not a kerasport bundle")
        with guarded("model payload"):
            graph, reference, meta = load_bundle(path)
    return Model(graph, reference, meta)


def load_payload(payload: Payload, engine: str = "numpy", threads: int | None = None) -> Model:
    """The Model of ``payload`` on ``engine`` (``threads``: as ``kerasport.load``), loaded
    (the bytes checked against the digest, the bundle validated, the engine built and
    checked) once per process; later calls with that digest return the cached Model."""
    check_engine_name(engine)
    key = (payload.digest, engine, threads)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = use_engine(_load(payload), engine, threads)
            _CACHE[key] = model
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        return model
