"""Pooling: MAX_POOL_2D / AVERAGE_POOL_2D (1-D pools over a height of 1); global pooling and
reductions: MEAN, REDUCE_MAX."""

from __future__ import annotations

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import expand, squeeze
from kerasport.export.tflite.writer.helpers import (
    fused_output,
    ints,
    options,
    padding_code,
    read,
    temp,
    tshape,
    write,
)
from kerasport.ir.graph import Node


@emitter("Pool", fuses=True)
def pool(ctx: TFLiteContext, node: Node) -> None:
    """Max or average pooling; 'same' averages exclude the padding in TFLite as in Keras."""
    size = list(node.attrs.get("pool_size", (2,)))
    strides = list(node.attrs.get("strides", size))
    padding = node.attrs.get("padding", "valid")
    if len(size) not in (1, 2) or padding not in ("same", "valid"):
        raise KerasportError(f"layer '{node.layer}': {len(size)}-D pooling with padding "
                             f"'{padding}' has no TFLite operator")
    x = read(ctx, node.inputs[0])
    one_d = len(size) == 1
    if one_d:
        x = expand(ctx, x, 1)
        size, strides = [1, *size], [1, *strides]
    code = "MAX_POOL_2D" if node.attrs.get("mode", "max") == "max" else "AVERAGE_POOL_2D"
    out, act = fused_output(ctx, node.outputs[0])
    opts = options("Pool2DOptions", padding=padding_code(padding), strideH=strides[0],
                   strideW=strides[1], filterHeight=size[0], filterWidth=size[1],
                   fusedActivationFunction=act)
    if not one_d:
        ctx.op(code, [x], [out], opts)
        return
    shape = tshape(ctx, out)
    mid = temp(ctx, f"{node.outputs[0]}/2d", [shape[0], 1, *shape[1:]])
    ctx.op(code, [x], [mid], opts)
    squeeze(ctx, mid, 1, out)


@emitter("Reduce")
def reduce(ctx: TFLiteContext, node: Node) -> None:
    """Mean or max over axes: MEAN / REDUCE_MAX with keep_dims."""
    mode = node.attrs.get("mode", "mean")
    code = {"mean": "MEAN", "max": "REDUCE_MAX", "sum": "SUM", "min": "REDUCE_MIN"}.get(mode)
    if code is None:
        raise KerasportError(f"layer '{node.layer}': reduction '{mode}' has no TFLite form")
    r = len(ctx.shape(node.inputs[0]))
    axes = sorted(a % r for a in node.attrs.get("axes", (1,)))
    ctx.op(code, [read(ctx, node.inputs[0]), ints(ctx, axes, "axes")],
           [write(ctx, node.outputs[0])],
           options("ReducerOptions", keepDims=bool(node.attrs.get("keepdims", False))))
