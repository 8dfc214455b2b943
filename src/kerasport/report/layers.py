"""The layer graph a report draws: one node per layer of the source model, its edges, shapes,
parameters and support status, and which IR value shows each layer's output.

For a Keras file the layers and edges come from the model's config (so layers that compute
nothing at inference, like Dropout, are still drawn); for any other source they come from the
IR, grouping its nodes by the layer they were converted from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kerasport.ir.graph import Graph


@dataclass
class Layer:
    """One node of the drawing."""

    name: str
    kind: str
    shape: str = ""
    params: int = 0
    supported: bool = True
    ops: list[str] = field(default_factory=list)
    probe: str | None = None  # the IR value that holds this layer's output
    depth: int = 0  # longest path from an input, for the error-by-depth plot


@dataclass
class LayerGraph:
    """Layers in topological order and their edges (producer, consumer)."""

    layers: list[Layer]
    edges: list[tuple[str, str]]

    def by_name(self) -> dict[str, Layer]:
        """Layers keyed by name."""
        return {layer.name: layer for layer in self.layers}


def _fmt_shape(shape: Any) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
        return ", ".join(_fmt_shape(s) for s in shape)
    if isinstance(shape, list | tuple):
        return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
    return str(shape)


def _layer_parts(node_layer: str) -> list[str]:
    """Layer names of an IR node: passes join folded layers with '+' ('conv1+bn1')."""
    return [part for part in node_layer.split("+") if part]


def probes(graph: Graph) -> dict[str, str]:
    """For each layer named in the IR, the value that holds its output: the last value its
    nodes produce that another layer reads or the model returns."""
    consumers: dict[str, set[str]] = {}
    for node in graph.nodes:
        for value in node.inputs:
            consumers.setdefault(value, set()).update(_layer_parts(node.layer))
    outputs = set(graph.outputs)
    found: dict[str, str] = {}
    for node in graph.nodes:
        parts = _layer_parts(node.layer)
        for value in node.outputs:
            if value in outputs or consumers.get(value, set()) - set(parts):
                for part in parts:
                    found[part] = value
    return found


def _ops_by_layer(graph: Graph) -> dict[str, list[str]]:
    ops: dict[str, list[str]] = {}
    for node in graph.nodes:
        for part in _layer_parts(node.layer):
            ops.setdefault(part, []).append(node.op)
    return ops


def _depths(layers: list[Layer], edges: list[tuple[str, str]]) -> None:
    parents: dict[str, list[str]] = {}
    for src, dst in edges:
        parents.setdefault(dst, []).append(src)
    depth: dict[str, int] = {}
    for layer in layers:  # topological order
        depth[layer.name] = 1 + max((depth.get(p, -1) for p in parents.get(layer.name, [])),
                                    default=-1)
        layer.depth = depth[layer.name]


def from_keras_spec(spec: Any, rows: list[Any], graph: Graph | None) -> LayerGraph:
    """The top-level layers of a Keras model spec with their config edges; ``rows`` (from
    ``inspect``) give shapes, parameters and support; ``graph`` (None if the model does not
    convert) gives the ops and probe values."""
    top = {layer.name for layer in spec.layers}
    row_of = {row.name: row for row in rows if row.name in top}
    ops = _ops_by_layer(graph) if graph is not None else {}
    found = probes(graph) if graph is not None else {}
    layers, edges = [], []
    for spec_layer in spec.layers:
        row = row_of.get(spec_layer.name)
        inner = spec_layer.model.layers if spec_layer.model is not None else []
        layer_ops = list(ops.get(spec_layer.name, []))
        for sub in inner:  # a nested model's ops carry its inner layers' names
            layer_ops += ops.get(f"{spec_layer.name}/{sub.name}", ops.get(sub.name, []))
        layers.append(Layer(
            spec_layer.name, spec_layer.class_name,
            _fmt_shape(row.output_shape) if row else "",
            row.params if row else 0, row.supported if row else True, layer_ops,
            found.get(spec_layer.name) or (spec_layer.name if graph is not None
                                           and spec_layer.name in graph.values else None)))
        for call in spec_layer.inbound:
            for ref in call.tensors():
                if ref.layer in top and (ref.layer, spec_layer.name) not in edges:
                    edges.append((ref.layer, spec_layer.name))
    _pass_through(layers, edges)
    _depths(layers, edges)
    return LayerGraph(layers, edges)


def _pass_through(layers: list[Layer], edges: list[tuple[str, str]]) -> None:
    """A layer with no ops at inference (Dropout, an identity) shows its input's value."""
    index = {layer.name: layer for layer in layers}
    for layer in layers:
        sources = [src for src, dst in edges if dst == layer.name]
        if layer.probe is None and not layer.ops and len(sources) == 1:
            layer.probe = index[sources[0]].probe


def from_graph(graph: Graph) -> LayerGraph:
    """Layers of an IR graph from any source: its inputs, then its nodes grouped by layer."""
    producer: dict[str, str] = {}
    layers: list[Layer] = []
    index: dict[str, Layer] = {}
    for name in graph.inputs:
        value = graph.values[name]
        index[name] = Layer(name, "Input", _fmt_shape(value.shape), probe=name)
        layers.append(index[name])
        producer[name] = name
    found = probes(graph)
    edges: list[tuple[str, str]] = []
    for node in graph.nodes:
        name = node.layer or node.outputs[0]
        layer = index.get(name)
        if layer is None:
            layer = index[name] = Layer(name, node.op, probe=found.get(name, node.outputs[-1]))
            layers.append(layer)
        elif node.op not in layer.ops:
            layer.kind += "+" + node.op
        layer.ops.append(node.op)
        for value in node.inputs:
            if value in graph.constants:
                layer.params += int(graph.constants[value].size)
            elif value in producer and producer[value] != name \
                    and (producer[value], name) not in edges:
                edges.append((producer[value], name))
        for value in node.outputs:
            producer[value] = name
    for layer in layers:
        if layer.probe in graph.values:
            layer.shape = _fmt_shape(graph.values[layer.probe].shape)
    _depths(layers, edges)
    return LayerGraph(layers, edges)
