"""An IR graph (a kerasport bundle, a non-Keras reader) -> the Keras target's graph, one
Keras 3 layer per IR node through the per-family emitters. Every node no emitter can express
is collected and refused at once, by op and by the layer (or source node) it came from."""

from __future__ import annotations

import importlib

from kerasport.errors import LayerIssue, UnsupportedLayerError
from kerasport.export.keras.graph import KLayer, KModel
from kerasport.export.keras.helpers import EMITTERS, EmitContext, Emitted, Refused
from kerasport.ir.graph import Graph, Node
from kerasport.keras.config import CallNode, TensorRef

FAMILIES = ("activations", "conv", "elementwise", "linalg", "norm", "pool", "resize",
            "shape")


def _load_emitters() -> None:
    for family in FAMILIES:
        importlib.import_module(f"kerasport.export.keras.{family}")


def _fresh(name: str, taken: set[str]) -> str:
    base = name.replace("/", "_") or "layer"
    out, i = base, 1
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def _issue(node: Node, reason: str, key: str | None = None) -> LayerIssue:
    return LayerIssue(node.layer or node.outputs[0], f"IR op {node.op}", reason, key)


class _Builder:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.ctx = EmitContext(graph)
        self.refs: dict[str, TensorRef] = {}
        self.taken: set[str] = set()
        self.layers: list[KLayer] = []
        self.issues: list[LayerIssue] = []
        self.poisoned: set[str] = set()

    def inputs(self) -> None:
        for name in self.graph.inputs:
            value = self.graph.values[name]
            layer = _fresh(name, self.taken)
            self.layers.append(KLayer(layer, "InputLayer", {
                "batch_shape": list(value.shape or ()), "dtype": value.dtype,
                "sparse": False, "name": layer}))
            self.refs[name] = TensorRef(layer, 0, 0)

    def node(self, node: Node) -> None:
        if any(v in self.poisoned for v in node.inputs):
            self.poisoned.update(node.outputs)  # its cause is reported already
            return
        fn = EMITTERS.get(node.op)
        if fn is None:
            self.issues.append(_issue(node, "no Keras 3 layer or keras.ops form is written "
                                      "for this op"))
            self.poisoned.update(node.outputs)
            return
        try:
            if len(node.outputs) != 1:
                raise Refused(f"{len(node.outputs)} outputs: only single-output ops map to "
                              "Keras layers here")
            emitted = fn(self.ctx, node)
            missing = [v for v in emitted.inputs if v not in self.refs]
            if missing:
                raise Refused(f"its input {missing[0]!r} has no Keras form")
        except Refused as exc:
            self.issues.append(_issue(node, exc.reason, exc.key))
            self.poisoned.update(node.outputs)
            return
        self.layers.append(self.layer(node, emitted))

    def layer(self, node: Node, e: Emitted) -> KLayer:
        name = _fresh(node.layer or node.outputs[0], self.taken)
        refs = [self.refs[v] for v in e.inputs]
        args = [refs] if e.merge else [*refs, *e.extra]
        layer = KLayer(name, e.class_name, {**e.config, "name": name}, [CallNode(args, {})],
                       e.module, e.class_name if e.module != "keras.layers" else None,
                       [(f"vars/{i}", w) for i, w in enumerate(e.weights)],
                       source=f"{node.layer} (IR op {node.op})")
        self.refs[node.outputs[0]] = TensorRef(name, 0, 0)
        return layer


def from_ir(graph: Graph) -> KModel:
    """The Keras 3 form of an IR graph; UnsupportedLayerError lists every node that has
    none."""
    _load_emitters()
    b = _Builder(graph)
    b.inputs()
    for node in graph.nodes:
        b.node(node)
    if b.issues:
        raise UnsupportedLayerError(b.issues)
    outs = [b.refs[v] for v in graph.outputs]
    inputs = [b.refs[v] for v in graph.inputs]
    outputs = outs[0] if graph.output_structure == "single" else (
        dict(zip(graph.output_names, outs)) if graph.output_structure == "dict" else outs)
    return KModel(graph.name.replace("/", "_"), "Functional", b.layers,
                  inputs[0] if len(inputs) == 1 else inputs, outputs)
