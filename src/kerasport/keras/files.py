"""Opening .keras archives and .h5 files: config, version and weight source, safely."""

from __future__ import annotations

import contextlib
import io
import json
import lzma
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kerasport._zip import open_archive, read_entry
from kerasport.errors import KerasportError, ModelFileError, UnsupportedLayerError
from kerasport.keras.config import ModelSpec, parse_model
from kerasport.keras.h5safe import H5_ERRORS, open_h5, text_attr
from kerasport.keras.keras1 import Keras1Weights, conv1d_layers
from kerasport.keras.repair import repair_weight_paths
from kerasport.keras.weights import H5Weights, KerasV3Weights, WeightSource

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
LFS_POINTER = b"version https://git-lfs"
MAX_JSON_DEPTH = 100
# what a malformed file can make Python, h5py or the config walk raise: turned into
# ModelFileError naming the file at the reader's boundary (guarded)
READ_ERRORS = (*H5_ERRORS, RecursionError, ZeroDivisionError, EOFError, NotImplementedError,
               AssertionError, zlib.error, lzma.LZMAError)


@contextlib.contextmanager
def guarded(path: str) -> Iterator[None]:
    """Turn any failure a malformed file causes while it is read or converted into a
    ModelFileError naming ``path`` (kerasport errors pass through unchanged, with the path
    prefixed where they lack it)."""
    try:
        yield
    except UnsupportedLayerError:
        raise
    except KerasportError as exc:
        text = str(exc)
        if path in text or not isinstance(exc, ModelFileError):
            raise
        raise type(exc)(f"{path}: {text}") from exc
    except READ_ERRORS as exc:
        raise ModelFileError(f"{path}: the model file is malformed ({type(exc).__name__}: "
                             f"{str(exc)[:300]})") from exc
    except MemoryError as exc:
        raise ModelFileError(f"{path}: the model declares more data than fits in memory"
                             ) from exc


@dataclass
class KerasFile:
    """A Keras model file, read: its model spec, weight source and provenance."""

    path: str
    format: str  # "keras" or "h5"
    keras_version: str
    spec: ModelSpec
    weights: WeightSource
    _handle: Any = None

    def close(self) -> None:
        """Release the open HDF5 handle."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def sniff(path: str) -> str:
    """'zip', 'hdf5', 'lfs' (a Git LFS pointer) or 'unknown', from the file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise ModelFileError(f"cannot open {path}: {exc}") from exc
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(LFS_POINTER):
        return "lfs"
    return "unknown"


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 3


def _depth(obj: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _json(data: bytes | str, what: str, path: str) -> Any:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: {what} is not valid JSON ({str(exc)[:200]})") from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: {what} is nested more than {MAX_JSON_DEPTH} levels "
                             "deep; no Keras model is")
    return value


def _what_zip_is(names: set[str]) -> str:
    if any(n.endswith("data.pkl") for n in names):
        return ("a PyTorch checkpoint (torch.save), not a Keras model: kerasport never unpickles "
                "it; export the network to ONNX with torch.onnx.export")
    if "model.weights.h5" in names or "model.weights.npz" in names:
        return "a .keras archive without config.json (the architecture is missing)"
    return "a zip archive without config.json is not a .keras model file"


def read_keras_archive(path: str) -> KerasFile:
    """Read a .keras zip (Keras 3, or Keras 2 as tf_keras writes it)."""
    with open_archive(path) as zf:
        names = set(zf.namelist())
        if "config.json" not in names:
            raise ModelFileError(f"{path}: {_what_zip_is(names)}")
        config = _json(read_entry(zf, "config.json", path), "config.json", path)
        meta: Any = {}
        if "metadata.json" in names:
            meta = _json(read_entry(zf, "metadata.json", path), "metadata.json", path)
        if not isinstance(meta, dict):
            raise ModelFileError(f"{path}: metadata.json holds a {type(meta).__name__}, not a "
                                 "JSON object")
        if "model.weights.h5" not in names:
            raise ModelFileError(f"{path}: missing model.weights.h5 (sharded or npz weight "
                                 "storage is not supported yet)")
        weights_bytes = read_entry(zf, "model.weights.h5", path)
        assets = {n[len("assets/"):]: read_entry(zf, n, path) for n in sorted(names)
                  if n.startswith("assets/") and not n.endswith("/")}
    version = str(meta.get("keras_version", "3"))
    major = _major(version)
    spec = parse_model(config, major)
    h5 = open_h5(io.BytesIO(weights_bytes), f"{path} (model.weights.h5)",
                 os.path.getsize(path))
    h5 = repair_weight_paths(h5, path)
    top = [(layer_name, cls) for layer_name, cls in spec.weight_layers]
    return KerasFile(path, "keras", version, spec, KerasV3Weights(h5, top, major, assets), h5)


def _no_config(h5: Any, path: str) -> ModelFileError:
    if "layer_names" in h5.attrs or "layers" in h5 or "vars" in h5:
        what = ("this HDF5 file holds weights only (from save_weights): it has no model "
                "config; give the architecture with it: kerasport.load(ARCHITECTURE, "
                "weights=this file) or `--weights-file` (ARCHITECTURE: a model.to_json() "
                "file or a .keras/.h5 model), or save the whole model with model.save()")
    else:
        what = "this HDF5 file has no model config: it is not a Keras model file"
    return ModelFileError(f"{path}: {what}")


def read_h5_model(path: str) -> KerasFile:
    """Read a legacy .h5 model (Keras 2, or Keras 3's legacy writer)."""
    h5 = open_h5(path, path)
    try:
        raw = text_attr(h5, "model_config", path)
        if raw is None:
            raise _no_config(h5, path)
        config = _json(raw, "model_config", path)
        version = text_attr(h5, "keras_version", path) or "2"
        spec = parse_model(config, _major(version))
        group = h5["model_weights"] if "model_weights" in h5 else h5
    except BaseException:
        h5.close()
        raise
    weights: WeightSource = H5Weights(group)
    if _major(version) <= 1:
        weights = Keras1Weights(weights, conv1d_layers(config))
    return KerasFile(path, "h5", version, spec, weights, h5)


def read_keras_file(path: str) -> KerasFile:
    """Read any supported Keras model file, choosing the reader from the file's content.
    Every failure is a kerasport error naming the file."""
    kind = sniff(path)
    if kind == "lfs":
        raise ModelFileError(f"{path}: a Git LFS pointer, not the model itself: fetch the file "
                             "with `git lfs pull` (or download it from the repository's LFS "
                             "storage)")
    if kind not in ("zip", "hdf5"):
        raise ModelFileError(f"{path}: not a Keras model file (.keras zip or .h5) nor a "
                             "kerasport bundle")
    with guarded(path):
        return read_keras_archive(path) if kind == "zip" else read_h5_model(path)
