"""tf.keras SavedModel directories (``model.save("dir")`` in TensorFlow 2.0-2.15), without
TensorFlow.

Read: ``keras_metadata.pb`` (a SavedMetadata protobuf: one entry per Keras object with its
object path, e.g. ``root.layer_with_weights-0``, and its Keras config as JSON; the root's is the
whole model's config) and ``variables/variables.index`` + ``variables.data-*`` (a tensor bundle
whose object graph leads from those paths to each variable). ``saved_model.pb`` is read only when
the metadata is missing, to tell a Keras model saved with ``tf.saved_model.save`` (whose Keras
config is not kept) from a plain TensorFlow graph. Nothing else in the directory is opened.
"""

from __future__ import annotations

import json
import os
from typing import Any

from kerasport.errors import ModelFileError
from kerasport.keras.checkpoint import CheckpointWeights, model_layers
from kerasport.keras.config import parse_model
from kerasport.keras.files import KerasFile, _depth, _major
from kerasport.keras.protos import parse
from kerasport.keras.tensorbundle import TensorBundle

METADATA = "keras_metadata.pb"
GRAPH = "saved_model.pb"
MAX_METADATA_BYTES = 512 << 20
MAX_GRAPH_BYTES = 2 << 30  # protobuf's own limit for one message
TF2ONNX = ("convert it to ONNX with tf2onnx (python -m tf2onnx.convert --saved-model DIR "
           "--output model.onnx) and read that")


def is_saved_model(path: str) -> bool:
    """Whether ``path`` is a directory holding a SavedModel."""
    return os.path.isdir(path) and (os.path.isfile(os.path.join(path, GRAPH)) or
                                    os.path.isfile(os.path.join(path, METADATA)))


def _read(path: str, limit: int) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise ModelFileError(f"{path}: {size} bytes, over the {limit} this file may have")
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from exc


def _no_metadata(path: str) -> ModelFileError:
    graph = os.path.join(path, GRAPH)
    if not os.path.isfile(graph):
        return ModelFileError(f"{path}: a directory, but not a SavedModel (no {GRAPH} nor "
                              f"{METADATA}); kerasport reads .keras/.h5 files, bundles and "
                              "tf.keras SavedModel directories")
    try:
        nodes = parse("SavedModel", _read(graph, MAX_GRAPH_BYTES)).meta_graphs
        ident = nodes[0].object_graph_def.nodes[0].user_object.identifier if nodes and len(
            nodes[0].object_graph_def.nodes) else ""
    except ValueError:
        ident = ""
    if ident.startswith("_tf_keras"):
        what = ("a Keras model saved with tf.saved_model.save (or exported) without its Keras "
                f"metadata ({METADATA}): the layer configs are not in it; re-save it with "
                "tf_keras model.save(DIR) or model.save('model.keras'), or")
    else:
        what = f"a TensorFlow SavedModel without Keras metadata ({METADATA}): a plain TF graph;"
    return ModelFileError(f"{path}: {what} {TF2ONNX}")


def untuple(obj: Any) -> Any:
    """tf_keras' SavedModel JSON writes tuples as ``{"class_name": "__tuple__", "items":
    [...]}``: back to lists, as in .h5 configs."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__tuple__" and isinstance(obj.get("items"), list):
            return [untuple(v) for v in obj["items"]]
        return {k: untuple(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [untuple(v) for v in obj]
    return obj


def _metadata(path: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The root's metadata JSON, and {parent object path: {layer name: child local name}}."""
    where = os.path.join(path, METADATA)
    try:
        saved = parse("SavedMetadata", _read(where, MAX_METADATA_BYTES))
    except ValueError as exc:
        raise ModelFileError(f"{where}: unreadable Keras metadata ({exc})") from exc
    root: dict[str, Any] | None = None
    paths: dict[str, dict[str, str]] = {}
    for node in saved.nodes:
        try:
            meta = json.loads(node.metadata) if node.metadata else {}
        except ValueError as exc:
            raise ModelFileError(f"{where}: the metadata of {node.node_path!r} is not valid "
                                 f"JSON ({str(exc)[:200]})") from exc
        if not isinstance(meta, dict) or _depth(meta) > 100:
            raise ModelFileError(f"{where}: the metadata of {node.node_path!r} is not a "
                                 "Keras object description")
        if node.node_path == "root":
            root = meta
        elif "." in node.node_path and isinstance(meta.get("name"), str):
            parent, local = node.node_path.rsplit(".", 1)
            paths.setdefault(parent, {}).setdefault(meta["name"], local)
    if root is None:
        raise ModelFileError(f"{where}: no entry for the root object; not Keras metadata")
    return root, paths


def read_saved_model(path: str) -> KerasFile:
    """Read a tf.keras SavedModel directory into a KerasFile (config + checkpoint weights)."""
    if not os.path.isfile(os.path.join(path, METADATA)):
        raise _no_metadata(path)
    root, paths = _metadata(path)
    config = root.get("config")
    if not isinstance(config, dict) or "layers" not in config:
        cls = root.get("class_name", "?")
        raise ModelFileError(f"{path}: the root object is a {cls} without a layer graph (a "
                             "subclassed model: its call() is Python code, not stored); "
                             f"{TF2ONNX}")
    version = str(root.get("keras_version", "2"))
    spec = parse_model({"class_name": root.get("class_name", "Functional"),
                        "config": untuple(config)}, _major(version))
    bundle = TensorBundle(os.path.join(path, "variables", "variables"))
    weights = CheckpointWeights(bundle, bundle.object_graph(), 0, model_layers(spec), paths)
    return KerasFile(path, "savedmodel", version, spec, weights)
