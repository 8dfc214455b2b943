"""Models stored as separate files, and the reader for any model source.

Architecture: a ``model.to_json()`` file (Keras 2 or 3), a TF.js ``model.json``, or a
.keras/.h5 model whose own weights are ignored. Weights: a ``save_weights`` .h5 (Keras 2,
``layer_names`` + ``weight_names``), a ``.weights.h5`` (Keras 3 and tf_keras 2.13+: the saving
walk's ``layers/<name>/vars``), the weights of a whole .h5/.keras model, or a TF-format
checkpoint (``<prefix>.index`` + ``<prefix>.data-*``, tf_keras ``save_weights`` without .h5).
Only the files given are opened, plus a checkpoint's data shards and a TF.js model's weight
shards (the files those formats define).
"""

from __future__ import annotations

import io
import os
from typing import Any

from kerasport._zip import open_archive, read_entry
from kerasport.errors import ModelFileError
from kerasport.keras.checkpoint import CheckpointWeights, model_layers
from kerasport.keras.config import MODEL_CLASSES, ModelSpec, parse_model
from kerasport.keras.files import KerasFile, _json, _major, guarded, read_keras_file, sniff
from kerasport.keras.h5safe import open_h5
from kerasport.keras.keras1 import Keras1Weights
from kerasport.keras.repair import repair_weight_paths
from kerasport.keras.tensorbundle import TensorBundle, checkpoint_prefix, is_checkpoint
from kerasport.keras.tfjs import NamedWeights, is_tfjs, read_manifest, topology
from kerasport.keras.weights import H5Weights, KerasV3Weights, WeightSource

MAX_JSON_BYTES = 256 << 20


def _read_json(path: str) -> Any:
    try:
        size = os.path.getsize(path)
        if size > MAX_JSON_BYTES:
            raise ModelFileError(f"{path}: {size} bytes, too large for a model JSON")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from exc
    return _json(data, "the file", path)


def is_json(path: str) -> bool:
    """Whether ``path`` is a file starting (after white space) with ``{`` or ``[``."""
    try:
        with open(path, "rb") as f:
            head = f.read(256).lstrip()
    except OSError:
        return False
    return head.startswith((b"{", b"["))


def _not_keras(path: str, doc: Any) -> ModelFileError:
    keys = ", ".join(sorted(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
    return ModelFileError(
        f"{path}: not a Keras model JSON (found {keys}); expected model.to_json() output "
        "(class_name Functional/Sequential/Model with a config) or a TF.js layers model.json")


def json_spec(path: str, doc: Any) -> tuple[ModelSpec, str]:
    """The ModelSpec and Keras version of a to_json() document or TF.js model.json."""
    if is_tfjs(doc):
        doc, version = topology(doc, path)
    elif isinstance(doc, dict):
        # Keras 2 writes keras_version; Keras 3 writes module/registered_name instead
        version = str(doc.get("keras_version") or ("3" if "module" in doc else "2"))
    else:
        raise _not_keras(path, doc)
    if doc.get("class_name") not in MODEL_CLASSES or not isinstance(doc.get("config"),
                                                                     (dict, list)):
        raise _not_keras(path, doc)
    return parse_model(doc, _major(version)), version


def read_json_model(path: str) -> KerasFile:
    """A JSON file given alone: a TF.js layers model (weights from its manifest)."""
    with guarded(path):
        doc = _read_json(path)
        if not is_tfjs(doc):
            json_spec(path, doc)  # a Keras JSON: say so; otherwise, say it is not one
            raise ModelFileError(f"{path}: an architecture without weights (model.to_json()); "
                                 "give the weights too: kerasport.load(path, weights=...) or "
                                 "--weights-file")
        spec, version = json_spec(path, doc)
        names = {layer.name for layer in spec.layers}
        return KerasFile(path, "tfjs", version, spec,
                         NamedWeights(read_manifest(doc, path), layers=names))


def _architecture(path: str) -> tuple[ModelSpec, str]:
    if is_json(path):
        with guarded(path):
            return json_spec(path, _read_json(path))
    kf = read_keras_file(path)
    kf.close()
    return kf.spec, kf.keras_version


def _h5_weights(h5: Any, spec: ModelSpec, major: int, path: str) -> WeightSource:
    if "layer_names" in h5.attrs:
        return H5Weights(h5)
    if "model_weights" in h5:
        return H5Weights(h5["model_weights"])
    if "layers" in h5 or "vars" in h5:
        return KerasV3Weights(h5, spec.weight_layers, major)
    raise ModelFileError(f"{path}: an HDF5 file without Keras weights (no layer_names, "
                         "model_weights nor layers group)")


def _weights(path: str, spec: ModelSpec, major: int) -> tuple[WeightSource, Any]:
    """The weight source in ``path`` and the handle to close afterwards."""
    if is_checkpoint(path) and not (os.path.isfile(path) and sniff(path) == "hdf5"):
        bundle = TensorBundle(checkpoint_prefix(path))
        return CheckpointWeights(bundle, bundle.object_graph(), 0, model_layers(spec)), None
    kind = sniff(path)
    if kind == "zip":
        with open_archive(path) as zf:
            if "model.weights.h5" not in zf.namelist():
                raise ModelFileError(f"{path}: a zip archive without model.weights.h5")
            data = read_entry(zf, "model.weights.h5", path)
        h5 = open_h5(io.BytesIO(data), f"{path} (model.weights.h5)", os.path.getsize(path))
        h5 = repair_weight_paths(h5, path)
        return KerasV3Weights(h5, spec.weight_layers, major), h5
    if kind == "hdf5":
        h5 = repair_weight_paths(open_h5(path, path), path)
        try:
            return _h5_weights(h5, spec, major, path), h5
        except BaseException:
            h5.close()
            raise
    raise ModelFileError(f"{path}: not a weights file kerasport reads (.h5, .weights.h5, "
                         ".keras, or a TF checkpoint's .index)")


def read_split(path: str, weights: str) -> KerasFile:
    """The architecture in ``path`` with the weights in ``weights``."""
    for p in (path, weights if not is_checkpoint(weights) else
              checkpoint_prefix(weights) + ".index"):
        if not os.path.isfile(p):
            raise ModelFileError(f"{p}: no such file")
    spec, version = _architecture(path)
    with guarded(weights):
        source, handle = _weights(weights, spec, _major(version))
    if _major(version) <= 1:
        source = Keras1Weights(source, {layer.name for layer in spec.layers
                                        if layer.class_name == "Conv1D"})
    kf = KerasFile(path, "json" if is_json(path) else "split", version, spec, source, handle)
    return kf


def read_model(path: str, weights: str | None = None) -> KerasFile:
    """Read any model source kerasport knows, choosing the reader from the content: a
    tf.keras SavedModel directory, a TF.js model.json, a .keras/.h5 file, or (with
    ``weights``) an architecture and a separate weights file."""
    from kerasport.keras.savedmodel import read_saved_model

    if os.path.isdir(path):
        if weights is not None:
            raise ModelFileError(f"{path}: a SavedModel directory holds its own weights; do "
                                 "not give a weights file with it")
        with guarded(path):
            return read_saved_model(path)
    if weights is not None:
        return read_split(path, weights)
    if is_json(path):
        return read_json_model(path)
    return read_keras_file(path)
