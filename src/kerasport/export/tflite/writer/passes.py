"""IR-level decisions taken before emitting: which Relu/Relu6 become fused activations, and
which zero Pads fold into the following convolution's 'same' padding."""

from __future__ import annotations

from typing import Any

from kerasport.export.tflite.writer.context import FUSING
from kerasport.ir.graph import Graph
from kerasport.ops.conv import same_pads

FUSABLE = {(None, 0.0, 0.0): "RELU", (6.0, 0.0, 0.0): "RELU6"}


def _consumers(graph: Graph) -> dict[str, int]:
    count: dict[str, int] = {}
    for n in graph.nodes:
        for v in n.inputs:
            count[v] = count.get(v, 0) + 1
    return count


def fuse_activations(ctx: Any, graph: Graph) -> None:
    """Mark Relu/Relu6 nodes that become the fused activation of their producer: the
    producer's emitter takes fusion, its output feeds only the Relu and is no graph output."""
    consumers = _consumers(graph)
    producer = {o: n for n in graph.nodes for o in n.outputs}
    for i, n in enumerate(graph.nodes):
        if n.op != "Relu" or len(n.inputs) != 1:
            continue
        mv = n.attrs.get("max_value")
        key = (None if mv is None else float(mv), float(n.attrs.get("negative_slope", 0.0)),
               float(n.attrs.get("threshold", 0.0)))
        src = n.inputs[0]
        p = producer.get(src)
        if (key in FUSABLE and p is not None and p.op in FUSING and consumers.get(src) == 1
                and src not in graph.outputs and p.outputs[0] == src and src not in ctx.fused
                and graph.values[src].dtype == "float32"):
            ctx.fused[src] = FUSABLE[key]
            ctx.fused_target[src] = n.outputs[0]
            ctx.skip.add(i)


def fold_pads(ctx: Any, graph: Graph) -> None:
    """A zero Pad of the spatial axes feeding only a 2-D 'valid' Conv / DepthwiseConv is that
    convolution with 'same' padding when the pads are TensorFlow's 'same' pads (MobileNet and
    EfficientNet downsample so): the Pad is skipped and the convolution reads its input."""
    consumers = _consumers(graph)
    index = {n.outputs[0]: i for i, n in enumerate(graph.nodes)}
    for n in graph.nodes:
        if n.op not in ("Conv", "DepthwiseConv") or n.attrs.get("padding") != "valid":
            continue
        i = index.get(n.inputs[0])
        pad = graph.nodes[i] if i is not None else None
        if (pad is None or pad.op != "Pad" or float(pad.attrs.get("value", 0.0)) != 0.0
                or consumers.get(n.inputs[0]) != 1 or n.inputs[0] in graph.outputs
                or n.inputs[1] not in graph.constants
                or graph.constants[n.inputs[1]].ndim != 4):
            continue
        pads = [tuple(p) for p in pad.attrs["pads"]]
        shape = graph.values[pad.inputs[0]].shape
        kernel = graph.constants[n.inputs[1]].shape
        if shape is None or len(pads) != 4 or pads[0] != (0, 0) or pads[3] != (0, 0) \
                or None in shape[1:3]:
            continue
        want = [same_pads(shape[1 + a], kernel[a], n.attrs.get("strides", (1, 1))[a],
                          n.attrs.get("dilations", (1, 1))[a]) for a in range(2)]
        if [tuple(p) for p in pads[1:3]] == want:
            ctx.skip.add(i)
            ctx.rename[n.inputs[0]] = pad.inputs[0]
            ctx.same.add(n.outputs[0])
