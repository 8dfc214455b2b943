"""Layer names Keras 3 refuses (it forbids "/" in names, which Keras 2 allowed: MobileNetV3
has 'Conv/BatchNorm') get the closest free name, and every reference follows."""

from __future__ import annotations

from typing import Any

from kerasport.export.keras.graph import KModel
from kerasport.keras.config import CallNode, TensorRef


def _fixed(name: str, taken: set[str]) -> str:
    base = name.replace("/", "_")
    out, i = base, 1
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    return out


def _rename_refs(obj: Any, names: dict[str, str]) -> Any:
    if isinstance(obj, TensorRef):
        return TensorRef(names.get(obj.layer, obj.layer), obj.node, obj.index)
    if isinstance(obj, list):
        return [_rename_refs(v, names) for v in obj]
    if isinstance(obj, dict):
        return {k: _rename_refs(v, names) for k, v in obj.items()}
    return obj


def legal_names(model: KModel) -> dict[str, str]:
    """Rename, in place, the layers of ``model`` (and of its nested models) whose names
    Keras 3 refuses; returns {old name: new name}."""
    taken = {layer.name for layer in model.layers}
    names = {}
    for layer in model.layers:
        if "/" in layer.name:
            names[layer.name] = new = _fixed(layer.name, taken)
            taken.add(new)
    renamed = dict(names)
    for layer in model.layers:
        layer.name = names.get(layer.name, layer.name)
        if "name" in layer.config:
            layer.config["name"] = layer.name
        layer.inbound = [CallNode(_rename_refs(c.args, names), _rename_refs(c.kwargs, names))
                         for c in layer.inbound]
        if layer.model is not None:
            renamed.update(legal_names(layer.model))
    model.inputs = _rename_refs(model.inputs, names)
    model.outputs = _rename_refs(model.outputs, names)
    return renamed
