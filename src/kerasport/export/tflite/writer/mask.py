"""Keras masks as 0/1 tensors: NOT_EQUAL, REDUCE_ANY / REDUCE_ALL, LOGICAL_AND / OR / NOT,
CAST; masked means and Masking as products; Fill as SHAPE + FILL."""

from __future__ import annotations

import numpy as np

from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import expand
from kerasport.export.tflite.writer.helpers import (
    alias,
    bi,
    const,
    ints,
    options,
    read,
    schema,
    temp,
    tshape,
)
from kerasport.export.tflite.writer.serialize import TYPES
from kerasport.ir.graph import Node


def cast(ctx: TFLiteContext, x: int, dtype: str) -> int:
    """``x`` as ``dtype`` (itself if it already is)."""
    src = ctx.tensors[x].dtype
    if src == dtype:
        return x
    s = schema()
    out = temp(ctx, f"{ctx.tensors[x].name}/{dtype}", tshape(ctx, x), dtype)
    ctx.op("CAST", [x], [out], options("CastOptions", inDataType=getattr(s.TensorType,
                                                                          TYPES[src]),
                                       outDataType=getattr(s.TensorType, TYPES[dtype])))
    return out


def nonzero(ctx: TFLiteContext, x: int, value: float = 0.0) -> int:
    """Boolean ``x != value``."""
    v = const(ctx, np.asarray([value]).astype(ctx.tensors[x].dtype), "value",
              ctx.tensors[x].dtype)
    return bi(ctx, "NOT_EQUAL", x, v, "bool")


def reduce_bool(ctx: TFLiteContext, code: str, x: int, axes: list[int], keep: bool) -> int:
    """REDUCE_ANY / REDUCE_ALL of a boolean tensor over ``axes``."""
    shape = tshape(ctx, x)
    dims = [1 if i in axes else d for i, d in enumerate(shape)] if keep else [
        d for i, d in enumerate(shape) if i not in axes]
    out = temp(ctx, f"{ctx.tensors[x].name}/{code.lower()}", dims, "bool")
    ctx.op(code, [x, ints(ctx, axes, "axes")], [out], options("ReducerOptions", keepDims=keep))
    return out


@emitter("MaskNotEqual")
def mask_not_equal(ctx: TFLiteContext, node: Node) -> None:
    """1 where x != value (any along ``axis`` when given)."""
    x = read(ctx, node.inputs[0])
    m = nonzero(ctx, x, float(node.attrs.get("value", 0.0)))
    axis = node.attrs.get("axis")
    if axis is not None:
        m = reduce_bool(ctx, "REDUCE_ANY", m, [axis % len(tshape(ctx, x))], False)
    alias(ctx, node.outputs[0], cast(ctx, m, node.attrs.get("dtype", "float32")))


def _mask_column(ctx: TFLiteContext, mask: str, dtype: str) -> int:
    """The (N, T) mask as (N, T, 1) of ``dtype``."""
    return expand(ctx, cast(ctx, read(ctx, mask), dtype), len(ctx.shape(mask)))


@emitter("ApplyMask")
def apply_mask(ctx: TFLiteContext, node: Node) -> None:
    """x times the mask (masked steps become zero)."""
    x = read(ctx, node.inputs[0])
    m = _mask_column(ctx, node.inputs[1], ctx.tensors[x].dtype)
    alias(ctx, node.outputs[0], bi(ctx, "MUL", x, m))


@emitter("MaskedMean")
def masked_mean(ctx: TFLiteContext, node: Node) -> None:
    """sum(x * m over time) / sum(m over time)."""
    x = read(ctx, node.inputs[0])
    m = _mask_column(ctx, node.inputs[1], ctx.tensors[x].dtype)
    keep = bool(node.attrs.get("keepdims", False))
    total = _sum_time(ctx, bi(ctx, "MUL", x, m), keep)
    alias(ctx, node.outputs[0], bi(ctx, "DIV", total, _sum_time(ctx, m, keep)))


def _sum_time(ctx: TFLiteContext, x: int, keep: bool) -> int:
    shape = tshape(ctx, x)
    out = temp(ctx, f"{ctx.tensors[x].name}/sum", [shape[0], 1, *shape[2:]] if keep
               else [shape[0], *shape[2:]])
    ctx.op("SUM", [x, ints(ctx, [1], "axes")], [out], options("ReducerOptions", keepDims=keep))
    return out


@emitter("MaskReduce")
def mask_reduce(ctx: TFLiteContext, node: Node) -> None:
    """Any / all of x != 0 along ``axis`` (every axis if None), as 0/1 float32."""
    x = read(ctx, node.inputs[0])
    r = len(tshape(ctx, x))
    axis = node.attrs.get("axis")
    axes = list(range(r)) if axis is None else [axis % r]
    code = "REDUCE_ANY" if node.attrs.get("mode", "any") == "any" else "REDUCE_ALL"
    m = reduce_bool(ctx, code, nonzero(ctx, x), axes, bool(node.attrs.get("keepdims")))
    alias(ctx, node.outputs[0], cast(ctx, m, "float32"))


@emitter("MaskLogical")
def mask_logical(ctx: TFLiteContext, node: Node) -> None:
    """and / or / not of 0/1 tensors, as 0/1 float32."""
    mode = node.attrs.get("mode", "and")
    a = nonzero(ctx, read(ctx, node.inputs[0]))
    if mode == "not":
        out = temp(ctx, f"{node.outputs[0]}/not", tshape(ctx, a), "bool")
        ctx.op("LOGICAL_NOT", [a], [out])
    else:
        b = nonzero(ctx, read(ctx, node.inputs[1]))
        out = bi(ctx, "LOGICAL_AND" if mode == "and" else "LOGICAL_OR", a, b, "bool")
    alias(ctx, node.outputs[0], cast(ctx, out, "float32"))


@emitter("Fill")
def fill(ctx: TFLiteContext, node: Node) -> None:
    """An array shaped like x filled with ``value``: SHAPE, FILL."""
    x = read(ctx, node.inputs[0])
    dtype = node.attrs.get("dtype", "float32")
    shape = temp(ctx, f"{node.outputs[0]}/shape", [len(tshape(ctx, x))], "int32")
    s = schema()
    ctx.op("SHAPE", [x], [shape], options("ShapeOptions", outType=s.TensorType.INT32))
    value = const(ctx, np.asarray(node.attrs.get("value", 0.0)).astype(dtype), "value", dtype)
    out = temp(ctx, node.outputs[0], tshape(ctx, x), dtype)
    ctx.op("FILL", [shape, value], [out])
    alias(ctx, node.outputs[0], out)
