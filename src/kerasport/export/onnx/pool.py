"""ONNX emitters for the pooling ops: Pool (MaxPool / AveragePool) and Reduce (global
pooling), channels-first like the convolutions."""

from __future__ import annotations

from kerasport.export.onnx.context import CF, CL, ExportContext, emitter
from kerasport.export.onnx.helpers import value_pads
from kerasport.ir.graph import Node


@emitter("Pool")
def pool(ctx: ExportContext, node: Node) -> None:
    """MaxPool / AveragePool (padding excluded from averages, as Keras)."""
    a = node.attrs
    size, strides = a.get("pool_size", [2]), a.get("strides", [2])
    op = "MaxPool" if a.get("mode", "max") == "max" else "AveragePool"
    y = ctx.add(op, [ctx.get(node.inputs[0], CF)], node.outputs[0], kernel_shape=size,
                strides=strides, **value_pads(ctx, node.inputs[0], size, strides, [1] * len(size),
                                         a.get("padding", "valid")))
    ctx.set(node.outputs[0], y, CF)


@emitter("Reduce")
def reduce(ctx: ExportContext, node: Node) -> None:
    """Global pooling: ReduceMean/ReduceMax over the spatial axes."""
    a = node.attrs
    x = node.inputs[0]
    rank = ctx.rank(x)
    axes = sorted(ax % rank for ax in a.get("axes", [1]))
    keep = bool(a.get("keepdims", False))
    op = "ReduceMean" if a.get("mode", "mean") == "mean" else "ReduceMax"
    spatial = list(range(1, rank - 1))
    if rank >= 3 and axes == spatial and CF in ctx.layouts(x):
        # global pooling of (N, C, *S): GlobalAveragePool/GlobalMaxPool give (N, C, 1, ..)
        glob = "GlobalAveragePool" if op == "ReduceMean" else "GlobalMaxPool"
        out = node.outputs[0]
        y = ctx.add(glob, [ctx.get(x, CF)], out if keep else f"{out}/pooled")
        if not keep:
            y = ctx.add("Flatten", [y], out, axis=1)
        ctx.set(out, y, CF if keep else CL)
        return
    y = ctx.reduce(op, ctx.get(x, CL), axes, keep, node.outputs[0])
    ctx.set(node.outputs[0], y, CL)


@emitter("Arg")
def arg(ctx: ExportContext, node: Node) -> None:
    """ArgMax / ArgMin(axis, keepdims, select_last_index) of the channels-last tensor."""
    a = node.attrs
    op = "ArgMax" if a.get("mode", "max") == "max" else "ArgMin"
    y = ctx.add(op, [ctx.get(node.inputs[0], CL)], node.outputs[0], axis=int(a.get("axis", 0)),
                keepdims=int(bool(a.get("keepdims", True))),
                select_last_index=int(bool(a.get("last", False))))
    ctx.set(node.outputs[0], y, CL)
