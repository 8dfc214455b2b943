"""TF.js layers models: ``model.json`` (Keras config in ``modelTopology``, a ``weightsManifest``)
and the binary shards it lists, read without TensorFlow or TF.js.

Each manifest group lists shard files (read from the folder of ``model.json``; plain file names
only) and the weights stored in them back to back: name (``dense/kernel``), shape, dtype
(float32, int32, bool) and an optional quantization (uint8/uint16 with ``scale`` and ``min``,
or float16). The shards' total size must be exactly what the weights declare.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from kerasport.errors import ModelFileError
from kerasport.keras.weights import Weights, WeightSource

MAX_WEIGHTS = 1_000_000
_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "uint8": np.uint8,
           "uint16": np.uint16, "float16": np.float16}


def is_tfjs(doc: Any) -> bool:
    """Whether a parsed model.json is a TF.js layers model."""
    return isinstance(doc, dict) and "modelTopology" in doc and "weightsManifest" in doc


def topology(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The Keras model config (class_name + config) and Keras version in a TF.js model.json."""
    if doc.get("format") == "graph-model":
        raise ModelFileError(f"{path}: a TF.js graph model (a frozen TF graph, no Keras "
                             "layers); convert the original model instead")
    topo = doc["modelTopology"]
    if not isinstance(topo, dict):
        raise ModelFileError(f"{path}: modelTopology is not a JSON object")
    config = topo.get("model_config", topo)
    if not isinstance(config, dict) or "config" not in config:
        raise ModelFileError(f"{path}: modelTopology holds no Keras model config")
    return config, str(topo.get("keras_version", "2"))


def _shard_path(folder: str, name: Any, path: str) -> str:
    if (not isinstance(name, str) or not name or os.path.basename(name) != name
            or name in (".", "..") or "\\" in name or "\x00" in name):
        raise ModelFileError(f"{path}: the weights manifest names shard {str(name)[:100]!r}; "
                             "only plain file names beside model.json are read")
    return os.path.join(folder, name)


def _spec(entry: Any, path: str) -> tuple[str, tuple[int, ...], np.dtype, dict[str, Any]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ModelFileError(f"{path}: unreadable weights manifest entry {str(entry)[:100]}")
    shape = entry.get("shape")
    if not isinstance(shape, list) or len(shape) > 32 or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 31 for d in shape):
        raise ModelFileError(f"{path}: weight '{entry['name']}' has an invalid shape "
                             f"{str(shape)[:100]}")
    quant = entry.get("quantization") or {}
    if not isinstance(quant, dict):
        raise ModelFileError(f"{path}: weight '{entry['name']}': unreadable quantization")
    stored = quant.get("dtype", entry.get("dtype", "float32"))
    if stored not in _DTYPES:
        raise ModelFileError(f"{path}: weight '{entry['name']}' is stored as {stored!r}, not a "
                             "type kerasport reads")
    return entry["name"], tuple(shape), np.dtype(_DTYPES[stored]).newbyteorder("<"), quant


def _decode(raw: np.ndarray, quant: dict[str, Any], name: str, path: str) -> np.ndarray:
    if not quant or quant.get("dtype") == "float16":
        return raw.astype(np.float32) if raw.dtype == np.float16 else raw
    try:
        scale, low = float(quant["scale"]), float(quant["min"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: weight '{name}' is quantized without a scale and "
                             "min") from exc
    return (raw.astype(np.float32) * np.float32(scale) + np.float32(low)).astype(np.float32)


def _group(group: Any, folder: str, path: str) -> list[tuple[str, np.ndarray]]:
    if not isinstance(group, dict) or not isinstance(group.get("paths"), list) or \
            not isinstance(group.get("weights"), list):
        raise ModelFileError(f"{path}: a weights manifest group lacks paths or weights")
    specs = [_spec(e, path) for e in group["weights"][:MAX_WEIGHTS + 1]]
    if len(specs) > MAX_WEIGHTS:
        raise ModelFileError(f"{path}: more than {MAX_WEIGHTS} weights in one group")
    sizes = [math.prod(shape) * dt.itemsize for _, shape, dt, _ in specs]  # exact, no wrap
    files = [_shard_path(folder, p, path) for p in group["paths"]]
    try:
        stored = sum(os.path.getsize(f) for f in files)
    except OSError as exc:
        raise ModelFileError(f"{path}: a weight shard listed in the manifest is missing or "
                             f"unreadable ({exc})") from exc
    if stored != sum(sizes):
        raise ModelFileError(f"{path}: the manifest declares {sum(sizes)} bytes of weights but "
                             f"the shards {', '.join(group['paths'])} hold {stored}; a shard "
                             "is truncated or does not belong to this model")
    data = bytearray()
    for f in files:
        with open(f, "rb") as handle:
            data += handle.read()
    out, pos = [], 0
    for (name, shape, dt, quant), size in zip(specs, sizes):
        raw = np.frombuffer(bytes(data[pos:pos + size]), dt).reshape(shape)
        out.append((name, _decode(raw, quant, name, path)))
        pos += size
    return out


def read_manifest(doc: dict[str, Any], path: str) -> list[tuple[str, np.ndarray]]:
    """Every weight of a TF.js model, (name, array) in manifest order."""
    manifest = doc["weightsManifest"]
    if not isinstance(manifest, list):
        raise ModelFileError(f"{path}: weightsManifest is not a list")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        return [w for group in manifest for w in _group(group, folder, path)]
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read a weight shard ({exc})") from exc


def owner(variable: str, layers: set[str]) -> str | None:
    """The layer a variable name belongs to: the longest layer name it starts with (names may
    hold "/": MobileNetV3's ``Conv/BatchNorm``), or None."""
    parts = variable.split("/")
    for i in range(len(parts) - 1, 0, -1):
        if "/".join(parts[:i]) in layers:
            return "/".join(parts[:i])
    return None


class NamedWeights:
    """Weights known only by their variable names (``dense/kernel``, ``bidirectional/
    forward_lstm/lstm_cell/bias``), as TF.js manifests store them: a layer's weights are those
    whose name starts with the layer's name (the longest such of ``layers``), in stored
    order."""

    def __init__(self, entries: list[tuple[str, np.ndarray]], scoped: bool = False,
                 layers: set[str] | None = None):
        self.entries = entries
        self.scoped = scoped  # inside a nested model: the name may be anywhere in the path
        self.layers = layers or set()

    def _select(self, name: str) -> list[tuple[str, np.ndarray]]:
        if self.layers and not self.scoped:
            return [(n, a) for n, a in self.entries if owner(n, self.layers) == name]
        first = [(n, a) for n, a in self.entries if n.split("/")[0] == name]
        if first or not self.scoped:
            return first
        return [(n, a) for n, a in self.entries if name in n.split("/")[:-1]]

    def layer(self, name: str) -> Weights:
        return list(self._select(name))

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        # tf_keras names a nested model's variables after its layers only; Keras 3 prefixes
        # them with the model's name
        inner = [(n.split("/", 1)[1], a) for n, a in self._select(name) if "/" in n]
        return NamedWeights(inner or self.entries, scoped=True)

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        # tf_keras names the wrapped model's variables after its own layers only
        return NamedWeights(self._select(name) or self.entries, scoped=True)

    def assets(self, name: str) -> dict[str, bytes]:
        return {}
