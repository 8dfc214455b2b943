"""Opening .keras archives and .h5 files: config, version and weight source, safely."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import h5py

from kerasport._zip import open_archive, read_entry
from kerasport.errors import ModelFileError
from kerasport.keras.config import ModelSpec, parse_model
from kerasport.keras.weights import H5Weights, KerasV3Weights, WeightSource

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


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
    """'zip', 'hdf5' or 'unknown', from the file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelFileError(f"cannot open {path}: {exc}") from exc
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head == HDF5_MAGIC:
        return "hdf5"
    return "unknown"


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 3


def _json(data: bytes | str, what: str, path: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: {what} is not valid JSON ({exc})") from exc


def _open_h5(data: Any, path: str) -> h5py.File:
    try:
        return h5py.File(data, "r")
    except Exception as exc:  # h5py raises OSError for damaged/truncated files
        raise ModelFileError(f"{path}: the HDF5 data is corrupt or truncated ({exc})") from exc


def read_keras_archive(path: str) -> KerasFile:
    """Read a .keras zip (Keras 3, or Keras 2 as tf_keras writes it)."""
    with open_archive(path) as zf:
        names = set(zf.namelist())
        if "config.json" not in names:
            raise ModelFileError(f"{path}: a zip archive without config.json is not a .keras "
                                 "model file")
        config = _json(read_entry(zf, "config.json", path), "config.json", path)
        meta = {}
        if "metadata.json" in names:
            meta = _json(read_entry(zf, "metadata.json", path), "metadata.json", path)
        if "model.weights.h5" not in names:
            raise ModelFileError(f"{path}: missing model.weights.h5 (sharded or npz weight "
                                 "storage is not supported yet)")
        weights_bytes = read_entry(zf, "model.weights.h5", path)
    version = str(meta.get("keras_version", "3"))
    major = _major(version)
    spec = parse_model(config, major)
    h5 = _open_h5(io.BytesIO(weights_bytes), path)
    top = [(layer_name, cls) for layer_name, cls in spec.weight_layers]
    return KerasFile(path, "keras", version, spec, KerasV3Weights(h5, top, major), h5)


def read_h5_model(path: str) -> KerasFile:
    """Read a legacy .h5 model (Keras 2, or Keras 3's legacy writer)."""
    h5 = _open_h5(path, path)
    try:
        raw = h5.attrs.get("model_config")
        if raw is None:
            raise ModelFileError(
                f"{path}: this HDF5 file has no model config (weights only, from "
                "save_weights?); save the whole model with model.save()")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        config = _json(raw, "model_config", path)
        version = h5.attrs.get("keras_version", "2")
        version = version.decode() if isinstance(version, bytes) else str(version)
        spec = parse_model(config, _major(version))
        group = h5["model_weights"] if "model_weights" in h5 else h5
    except Exception:
        h5.close()
        raise
    return KerasFile(path, "h5", version, spec, H5Weights(group), h5)


def read_keras_file(path: str) -> KerasFile:
    """Read any supported Keras model file, choosing the reader from the file's content."""
    kind = sniff(path)
    if kind == "zip":
        return read_keras_archive(path)
    if kind == "hdf5":
        return read_h5_model(path)
    raise ModelFileError(f"{path}: not a Keras model file (.keras zip or .h5) nor a kerasport "
                         "bundle")
