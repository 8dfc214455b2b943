"""The order of a Functional model's ``layers`` as Keras 3 computes it when it builds the
model (its graph map: decreasing depth from the outputs, ties by first visit in a depth-first
walk from the outputs). The saving walk numbers a model's layers per class in that order, so
the weight file must follow it, whatever order the config lists them in."""

from __future__ import annotations

from typing import Any

from kerasport.export.keras.graph import KLayer, KModel, refs_in
from kerasport.keras.config import TensorRef

NodeKey = tuple[str, int]


def _flatten(obj: Any) -> list[TensorRef]:
    """Tensors in the order Keras' tree.flatten gives them (dict keys sorted)."""
    if isinstance(obj, dict):
        return [r for k in sorted(obj) for r in _flatten(obj[k])]
    return refs_in(obj) if not isinstance(obj, (list, tuple)) else [
        r for v in obj for r in _flatten(v)]


def _parents(model: KModel) -> dict[NodeKey, list[NodeKey]]:
    out: dict[NodeKey, list[NodeKey]] = {}
    for layer in model.layers:
        if layer.class_name == "InputLayer":
            out[(layer.name, 0)] = []
        for i, call in enumerate(layer.inbound):
            out[(layer.name, i)] = [(r.layer, r.node) for r in
                                    _flatten(call.args) + _flatten(call.kwargs)]
    return out


def _walk(parents: dict[NodeKey, list[NodeKey]], outputs: list[NodeKey]
          ) -> tuple[list[NodeKey], dict[str, int]]:
    finished: set[NodeKey] = set()
    ordered: list[NodeKey] = []
    first_visit: dict[str, int] = {}

    def visit(node: NodeKey) -> None:
        if node in finished:
            return
        first_visit.setdefault(node[0], len(first_visit))
        for parent in parents.get(node, []):
            visit(parent)
        finished.add(node)
        ordered.append(node)

    for node in outputs:
        visit(node)
    return ordered, first_visit


def keras_layer_order(model: KModel) -> list[KLayer]:
    """``model.layers`` (operations included) in the order Keras 3 gives them."""
    parents = _parents(model)
    outputs = [(r.layer, r.node) for r in _flatten(model.outputs)]
    ordered, first_visit = _walk(parents, outputs)
    node_depth: dict[NodeKey, int] = {}
    layer_depth: dict[str, int] = {}
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(node, 0), layer_depth.get(node[0], 0))
        layer_depth[node[0]] = node_depth[node] = depth
        for parent in parents.get(node, []):
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for ref in _flatten(model.inputs):  # inputs no output depends on
        if ref.layer not in layer_depth:
            layer_depth[ref.layer], first_visit[ref.layer] = 0, -1
    by_name = {layer.name: layer for layer in model.layers}
    names = sorted(layer_depth, key=lambda n: (-layer_depth[n], first_visit[n]))
    return [by_name[n] for n in names if n in by_name]
