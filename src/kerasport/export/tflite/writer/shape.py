"""Data movement: RESHAPE (Reshape, Flatten, ExpandDims, FoldTime, UnfoldTime), TRANSPOSE,
PAD / PADV2, STRIDED_SLICE (Crop), CONCATENATION, GATHER, REVERSE_V2."""

from __future__ import annotations

import numpy as np

from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import reshape
from kerasport.export.tflite.writer.helpers import (
    const,
    fused_output,
    ints,
    options,
    read,
    scalar,
    write,
)
from kerasport.ir.graph import Node


@emitter("Reshape", "Flatten", "ExpandDims", "FoldTime", "UnfoldTime")
def reshape_like(ctx: TFLiteContext, node: Node) -> None:
    """Every reshape of the IR as one RESHAPE to the output's shape (free dims: see
    ``conv.reshape``)."""
    x = read(ctx, node.inputs[0])
    reshape(ctx, x, list(ctx.shape(node.outputs[0])), write(ctx, node.outputs[0]))


@emitter("Transpose")
def transpose(ctx: TFLiteContext, node: Node) -> None:
    """TRANSPOSE by ``perm``."""
    ctx.op("TRANSPOSE", [read(ctx, node.inputs[0]), ints(ctx, node.attrs["perm"], "perm")],
           [write(ctx, node.outputs[0])])


@emitter("Pad")
def pad(ctx: TFLiteContext, node: Node) -> None:
    """PAD (zeros) or PADV2 (a constant value)."""
    pads = const(ctx, np.asarray(node.attrs["pads"], np.int32), "pads", "int32")
    value = float(node.attrs.get("value", 0.0))
    x = read(ctx, node.inputs[0])
    if value == 0.0:
        ctx.op("PAD", [x, pads], [write(ctx, node.outputs[0])])
    else:
        ctx.op("PADV2", [x, pads, scalar(ctx, value)], [write(ctx, node.outputs[0])])


@emitter("Crop")
def crop(ctx: TFLiteContext, node: Node) -> None:
    """STRIDED_SLICE removing (before, after) per axis; a free axis must not be cropped at
    its end."""
    shape = ctx.shape(node.inputs[0])
    begin, end, end_mask = [], [], 0
    for i, ((b, a), d) in enumerate(zip(node.attrs["crops"], shape)):
        begin.append(b)
        if a == 0:
            end.append(0)
            end_mask |= 1 << i
        elif d is None:
            end.append(-a)
        else:
            end.append(d - a)
    ctx.op("STRIDED_SLICE", [read(ctx, node.inputs[0]), ints(ctx, begin, "begin"),
                             ints(ctx, end, "end"), ints(ctx, [1] * len(shape), "strides")],
           [write(ctx, node.outputs[0])], options("StridedSliceOptions", endMask=end_mask))


@emitter("Concat", fuses=True)
def concat(ctx: TFLiteContext, node: Node) -> None:
    """CONCATENATION along ``axis``."""
    r = len(ctx.shape(node.outputs[0]))
    out, act = fused_output(ctx, node.outputs[0])
    ctx.op("CONCATENATION", [read(ctx, v) for v in node.inputs], [out],
           options("ConcatenationOptions", axis=node.attrs.get("axis", -1) % r,
                   fusedActivationFunction=act))


@emitter("Gather")
def gather(ctx: TFLiteContext, node: Node) -> None:
    """GATHER rows (axis 0) of the table at the indices (Embedding)."""
    table, idx = read(ctx, node.inputs[0]), read(ctx, node.inputs[1])
    if ctx.tensors[idx].dtype not in ("int32", "int64"):
        cast = write_cast(ctx, idx, node)
        idx = cast
    ctx.op("GATHER", [table, idx], [write(ctx, node.outputs[0])],
           options("GatherOptions", axis=0))


def write_cast(ctx: TFLiteContext, x: int, node: Node) -> int:
    """Indices given as floats, cast to int32 (Keras casts Embedding inputs likewise)."""
    from kerasport.export.tflite.writer.helpers import schema, temp, tshape

    s = schema()
    out = temp(ctx, f"{node.outputs[0]}/indices", tshape(ctx, x), "int32")
    ctx.op("CAST", [x], [out], options("CastOptions", inDataType=s.TensorType.FLOAT32,
                                       outDataType=s.TensorType.INT32))
    return out


@emitter("Reverse")
def reverse(ctx: TFLiteContext, node: Node) -> None:
    """REVERSE_V2 along ``axis``."""
    r = len(ctx.shape(node.inputs[0]))
    ctx.op("REVERSE_V2", [read(ctx, node.inputs[0]),
                          ints(ctx, [node.attrs.get("axis", 1) % r], "axis")],
           [write(ctx, node.outputs[0])])

