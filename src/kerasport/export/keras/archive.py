"""Write the Keras target's graph as a Keras 3 ``.keras`` archive, with zipfile and h5py only:
``config.json`` (the serialized Functional/Sequential model), ``metadata.json`` and
``model.weights.h5`` (``layers/<snake_case class>[_<k>]/.../vars/<i>``)."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from typing import Any

import h5py
import numpy as np

from kerasport.export.keras.graph import KLayer, KModel
from kerasport.export.keras.order import keras_layer_order
from kerasport.keras.config import TensorRef
from kerasport.keras.weights import saving_names

FUNCTIONAL = {"module": "keras.src.models.functional", "class_name": "Functional",
              "registered_name": "Functional"}
SEQUENTIAL = {"module": "keras", "class_name": "Sequential", "registered_name": None}
KERAS_VERSION = "3.0.0"  # the format version written (any Keras 3 reads it)


def _tensor(ref: TensorRef) -> dict[str, Any]:
    # Keras reads only keras_history back (it finds the tensor by layer, node and index)
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [], "dtype": "float32",
                       "keras_history": [ref.layer, ref.node, ref.index]}}


def _arg(obj: Any) -> Any:
    if isinstance(obj, TensorRef):
        return _tensor(obj)
    if isinstance(obj, (list, tuple)):
        return [_arg(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _arg(v) for k, v in obj.items()}
    return obj


def _structure(obj: Any, nested: set[str]) -> Any:
    """input_layers/output_layers: a nested Functional's own call counts as its node 0 there,
    so the calls made in this model are numbered from 1."""
    if isinstance(obj, TensorRef):
        return [obj.layer, obj.node + (obj.layer in nested), obj.index]
    if isinstance(obj, dict):
        return {k: _structure(v, nested) for k, v in obj.items()}
    return [_structure(v, nested) for v in obj]


def layer_config(layer: KLayer, in_sequential: bool = False) -> dict[str, Any]:
    """One entry of a model's ``layers`` list."""
    out: dict[str, Any] = {"module": layer.module, "class_name": layer.class_name,
                           "config": dict(layer.config), "registered_name":
                           layer.registered_name}
    if layer.model is not None:
        head = SEQUENTIAL if layer.model.class_name == "Sequential" else FUNCTIONAL
        out.update(head)
        out["config"] = model_config(layer.model)
    out["config"]["name"] = layer.name
    if not in_sequential:
        out["name"] = layer.name
        out["inbound_nodes"] = [{"args": _arg(c.args), "kwargs": _arg(c.kwargs)}
                                for c in layer.inbound]
    return out


def model_config(model: KModel) -> dict[str, Any]:
    """The ``config`` of a serialized Functional or Sequential model."""
    if model.class_name == "Sequential":
        return {"name": model.name, "trainable": True,
                "layers": [layer_config(x, True) for x in model.layers]}
    nested = {x.name for x in model.layers
              if x.model is not None and x.model.class_name != "Sequential"}
    return {"name": model.name, "trainable": True,
            "layers": [layer_config(x) for x in model.layers],
            "input_layers": _structure(model.inputs, nested),
            "output_layers": _structure(model.outputs, nested)}


def config_json(model: KModel) -> dict[str, Any]:
    """The whole ``config.json``."""
    head = SEQUENTIAL if model.class_name == "Sequential" else FUNCTIONAL
    return {**head, "config": model_config(model), "compile_config": None}


def _weight_layers(model: KModel) -> list[KLayer]:
    """The model's layers in ``model.layers`` order (as Keras 3 computes it for a
    Functional): operations are not layers, and a Sequential does not list its InputLayer."""
    if model.class_name == "Sequential":
        return [x for x in model.layers if x.class_name != "InputLayer"]
    return [x for x in keras_layer_order(model) if not x.is_operation]


def _write_weights(group: h5py.Group, model: KModel) -> None:
    layers = _weight_layers(model)
    container = group.create_group("layers")
    for layer, path in zip(layers, saving_names([x.class_name for x in layers])):
        g = container.create_group(path)
        g.create_group("vars").attrs["name"] = layer.name
        if layer.model is not None:
            _write_weights(g, layer.model)
        for where, array in layer.weights:
            # (np.ascontiguousarray would turn a scalar variable into shape (1,))
            g.create_dataset(where, data=np.require(array, requirements="C"))


def weights_h5(model: KModel) -> bytes:
    """``model.weights.h5`` for ``model``, as bytes."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _write_weights(f, model)
        f.create_group("vars").attrs["name"] = model.name
    return buffer.getvalue()


def write_archive(model: KModel, path: str) -> None:
    """Write ``model`` as a .keras archive at ``path`` (a staged path: the caller renames)."""
    meta = {"keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "written_by": "kerasport"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(meta))
        zf.writestr("config.json", json.dumps(config_json(model)))
        zf.writestr("model.weights.h5", weights_h5(model), compress_type=zipfile.ZIP_STORED)
        for name, data in sorted(model.assets.items()):
            zf.writestr(f"assets/{name}", data)
