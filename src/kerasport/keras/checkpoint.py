"""Weights from a TF object-based checkpoint, matched to Keras layers through its object graph.

tf_keras tracks a model's layers as children ``layer-<i>`` (every layer, in ``model.layers``
order) and ``layer_with_weights-<k>`` (the same objects, counting only layers with weights); a
layer's variables hang below it by attribute name (``kernel``, ``cell/recurrent_kernel``,
``forward_layer/cell/bias`` ...), each with the key of its tensor in the bundle. A layer is
found, in this order, through the SavedModel's Keras metadata (the exact object path of every
layer), through the variables' own names (``dense_1/kernel`` belongs to layer ``dense_1``), or by
position among the ``layer-<i>`` children. A layer's weights come back in the order its object
lists them, which is their creation order: Keras' weight order.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from kerasport.errors import WeightsError
from kerasport.keras.tensorbundle import TensorBundle
from kerasport.keras.tfjs import owner
from kerasport.keras.weights import Weights, WeightSource

_LAYER_CHILD = re.compile(r"layer-(\d+)$")
MAX_DEPTH = 64
# what a Keras SavedModel adds to each layer's object besides its attributes: lists of the
# same variables, and the restore machinery
_SAVED_LISTS = {"variables", "trainable_variables", "non_trainable_variables",
                "regularization_losses", "keras_api", "_default_save_signature", "signatures"}


def _children(graph: Any, node: int) -> list[tuple[str, int]]:
    if not 0 <= node < len(graph.nodes):
        raise WeightsError(f"the checkpoint's object graph refers to a missing object {node}")
    return [(c.local_name, c.node_id) for c in graph.nodes[node].children]


def variables_below(graph: Any, node: int) -> list[tuple[str, str, str]]:
    """(path below ``node``, variable full name, checkpoint key) of every variable under
    ``node``: in the order of the layer's ``variables`` list when a SavedModel stored it
    (Keras' own weight order), else depth first in the order the objects list their children
    (creation order); each object once, named by its attribute path."""
    found = _walk(graph, node)
    listed = dict(_children(graph, node)).get("variables")
    if listed is None:
        return [v for _, v in found]
    by_node = dict(found)
    order = [child for _, child in _children(graph, listed)]
    if sorted(order) != sorted(by_node):
        return [v for _, v in found]
    return [by_node[child] for child in order]


def _walk(graph: Any, node: int) -> list[tuple[int, tuple[str, str, str]]]:
    out: list[tuple[int, tuple[str, str, str]]] = []
    seen = {node}
    stack: list[tuple[int, str, int]] = [(node, "", 0)]
    while stack:
        current, prefix, depth = stack.pop()
        for attr in graph.nodes[current].attributes:
            if attr.name == "VARIABLE_VALUE":
                out.append((current, (prefix.rstrip("/"), attr.full_name,
                                      attr.checkpoint_key)))
        if depth >= MAX_DEPTH:
            continue
        todo = []
        for name, child in _children(graph, current):
            if child in seen or name in _SAVED_LISTS:
                continue
            seen.add(child)
            todo.append((child, f"{prefix}{name}/", depth + 1))
        stack.extend(reversed(todo))
    return out


class CheckpointWeights:
    """A :class:`WeightSource` over the object graph of a TF checkpoint (or SavedModel).

    ``layers`` is the model's (name, class) list in config order; ``paths`` maps a layer name
    to its child's local name when the SavedModel's metadata says it."""

    def __init__(self, bundle: TensorBundle, graph: Any, node: int,
                 layers: list[tuple[str, str]], paths: dict[str, dict[str, str]] | None = None,
                 where: str = "root"):
        self.bundle, self.graph, self.node, self.where = bundle, graph, node, where
        self.paths = paths or {}
        self.children = dict(_children(graph, node))
        self.nodes = self._match(layers)

    def _match(self, layers: list[tuple[str, str]]) -> dict[str, int]:
        names = [name for name, _ in layers]
        stated = self.paths.get(self.where, {})
        found = {n: self.children[c] for n, c in stated.items() if c in self.children}
        numbered = sorted((int(m.group(1)), child) for local, child in self.children.items()
                          if (m := _LAYER_CHILD.match(local)))
        by_owner: dict[str, int] = {}
        known = set(names)
        for _, child in numbered:
            owners = {owner(full, known) for _, full, _ in variables_below(self.graph, child)}
            if len(owners) == 1 and None not in owners:
                by_owner.setdefault(str(owners.pop()), child)
        for name in names:
            if name not in found and name in by_owner:
                found[name] = by_owner[name]
        # by position: every layer, or (a Sequential that does not track its input) all but
        # the InputLayers
        for candidate in (names, [n for n, cls in layers if cls != "InputLayer"]):
            if len(numbered) == len(candidate):
                claimed = set(found.values())
                for name, (_, child) in zip(candidate, numbered):
                    if name not in found and child not in claimed:
                        found[name] = child
                break
        return found

    def _node(self, name: str) -> int | None:
        return self.nodes.get(name)

    def layer(self, name: str) -> Weights:
        node = self._node(name)
        if node is None:
            return []
        # paths below the layer ("forward_layer/cell/kernel"), without the layer's own name,
        # which could hold the words converters look for ("forward")
        return [(path, self._read(name, path, key))
                for path, _, key in variables_below(self.graph, node)]

    def _read(self, layer: str, path: str, key: str) -> np.ndarray:
        if key not in self.bundle.entries:
            raise WeightsError(f"{self.bundle.where}: variable '{path}' of layer '{layer}' is "
                               f"listed in the object graph but its tensor '{key}' is missing")
        return self.bundle.read(key)

    def _sub(self, name: str, layers: list[tuple[str, str]], child: str | None
             ) -> WeightSource:
        node = self._node(name)
        if node is not None and child is not None:
            node = dict(_children(self.graph, node)).get(child)
        if node is None:
            raise WeightsError(f"{self.bundle.where}: no weights stored for the model in "
                               f"layer '{name}'")
        where = f"{self.where}.{self._local(name)}" + (f".{child}" if child else "")
        return CheckpointWeights(self.bundle, self.graph, node, layers, self.paths, where)

    def _local(self, name: str) -> str:
        stated = self.paths.get(self.where, {}).get(name)
        if stated is not None:
            return stated
        node = self.nodes.get(name)
        return next((local for local, c in self.children.items() if c == node), name)

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return self._sub(name, layers, None)

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return self._sub(name, layers, "layer")

    def assets(self, name: str) -> dict[str, bytes]:
        return {}


def model_layers(spec: Any) -> list[tuple[str, str]]:
    """(name, class) of every layer of a ModelSpec, config order (InputLayers included)."""
    return [(layer.name, layer.class_name) for layer in spec.layers]
