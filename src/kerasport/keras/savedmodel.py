"""tf.keras SavedModel directories (``model.save("dir")`` in TensorFlow 2.0-2.15), without
TensorFlow.

Read: ``keras_metadata.pb`` (a SavedMetadata protobuf: one entry per Keras object with its
object path, e.g. ``root.layer_with_weights-0``, and its Keras config as JSON; the root's is the
whole model's config) and ``variables/variables.index`` + ``variables.data-*`` (a tensor bundle
whose object graph leads from those paths to each variable). ``saved_model.pb`` is read only when
keras_metadata.pb is missing: TF 2.0-2.4 kept the same JSON in its objects
(``SavedUserObject.metadata``); without it, it tells a Keras model saved with
``tf.saved_model.save`` (whose Keras config is not kept) from a plain TensorFlow graph. Nothing
else in the directory is opened.
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
TF2ONNX = ("convert it with `kerasport convert DIR --input-shape 1,...` (TensorFlow and "
           "tf2onnx export it to ONNX in a worker process), or convert it to ONNX with tf2onnx "
           "(python -m tf2onnx.convert --saved-model DIR --output model.onnx) and read that")


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


def _object_graph(path: str) -> list[Any]:
    """The SavedObjectGraph's nodes of ``saved_model.pb`` (empty if it has none)."""
    where = os.path.join(path, GRAPH)
    try:
        metas = parse("SavedModel", _read(where, MAX_GRAPH_BYTES)).meta_graphs
    except ValueError as exc:
        raise ModelFileError(f"{where}: not a readable SavedModel ({exc})") from exc
    return list(metas[0].object_graph_def.nodes) if metas else []


def _no_metadata(path: str, nodes: list[Any]) -> ModelFileError:
    ident = nodes[0].user_object.identifier if nodes else ""
    if ident.startswith("_tf_keras"):
        what = ("a Keras model saved with tf.saved_model.save (or exported) without its Keras "
                f"metadata ({METADATA}): the layer configs are not in it; re-save it with "
                "tf_keras model.save(DIR) or model.save('model.keras'), or")
    else:
        what = f"a TensorFlow SavedModel without Keras metadata ({METADATA}): a plain TF graph;"
    return ModelFileError(f"{path}: {what} {TF2ONNX}")


def _inline_metadata(nodes: list[Any]) -> list[tuple[str, str]]:
    """(object path, metadata JSON) of every Keras object, as TF 2.0-2.4 stored them inside
    saved_model.pb (each path the first found breadth first from the root)."""
    paths = {0: "root"}
    queue = [0]
    while queue:
        node = queue.pop(0)
        for ref in nodes[node].children:
            if 0 <= ref.node_id < len(nodes) and ref.node_id not in paths:
                paths[ref.node_id] = f"{paths[node]}.{ref.local_name}"
                queue.append(ref.node_id)
    return [(paths[i], nodes[i].user_object.metadata) for i in sorted(paths)
            if nodes[i].user_object.metadata]


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


def _entries(path: str) -> tuple[str, list[tuple[str, str]]]:
    """Where the Keras metadata is, and (object path, JSON) of each Keras object in it:
    keras_metadata.pb (TF 2.5+), else the objects of saved_model.pb (TF 2.0-2.4)."""
    where = os.path.join(path, METADATA)
    if os.path.isfile(where):
        try:
            saved = parse("SavedMetadata", _read(where, MAX_METADATA_BYTES))
        except ValueError as exc:
            raise ModelFileError(f"{where}: unreadable Keras metadata ({exc})") from exc
        return where, [(n.node_path, n.metadata) for n in saved.nodes]
    if not os.path.isfile(os.path.join(path, GRAPH)):
        raise ModelFileError(f"{path}: a directory, but not a SavedModel (no {GRAPH} nor "
                             f"{METADATA}); kerasport reads .keras/.h5 files, bundles and "
                             "tf.keras SavedModel directories")
    nodes = _object_graph(path)
    entries = _inline_metadata(nodes)
    if not entries or entries[0][0] != "root":
        raise _no_metadata(path, nodes)
    return os.path.join(path, GRAPH), entries


def _metadata(path: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The root's metadata JSON, and {parent object path: {layer name: child local name}}."""
    where, entries = _entries(path)
    root: dict[str, Any] | None = None
    paths: dict[str, dict[str, str]] = {}
    for node_path, text in entries:
        try:
            meta = json.loads(text) if text else {}
        except ValueError as exc:
            raise ModelFileError(f"{where}: the metadata of {node_path!r} is not valid "
                                 f"JSON ({str(exc)[:200]})") from exc
        if not isinstance(meta, dict) or _depth(meta) > 100:
            raise ModelFileError(f"{where}: the metadata of {node_path!r} is not a "
                                 "Keras object description")
        if node_path == "root":
            root = meta
        elif "." in node_path and isinstance(meta.get("name"), str):
            parent, local = node_path.rsplit(".", 1)
            paths.setdefault(parent, {}).setdefault(meta["name"], local)
    if root is None:
        raise ModelFileError(f"{where}: no entry for the root object; not Keras metadata")
    return root, paths


def read_saved_model(path: str) -> KerasFile:
    """Read a tf.keras SavedModel directory into a KerasFile (config + checkpoint weights)."""
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


def has_keras_metadata(path: str) -> bool:
    """Whether the SavedModel directory ``path`` holds Keras metadata (keras_metadata.pb, or
    TF 2.0-2.4's metadata inside saved_model.pb); without it, it is a plain TF graph."""
    if os.path.isfile(os.path.join(path, METADATA)):
        return True
    entries = _inline_metadata(_object_graph(path))
    return bool(entries) and entries[0][0] == "root"
