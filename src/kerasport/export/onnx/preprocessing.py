"""ONNX emitters for the preprocessing ops: the categorical ones (Bucketize, Lookup,
CategoryEncode) as comparisons against constant boundaries, keys or ids broadcast along a new
last axis, and AutoContrast."""

from __future__ import annotations

import numpy as np

from kerasport.export.onnx.context import CL, ExportContext, emitter, unavailable
from kerasport.export.onnx.helpers import INT64, onnx_dtype, scalar
from kerasport.ir.graph import Node


def _expanded(ctx: ExportContext, x: str, out: str, to: int | None = INT64) -> str:
    """The channels-last input with a new last axis (cast to ``to`` first if given)."""
    src = ctx.get(x, CL)
    if to is not None:
        src = ctx.add("Cast", [src], f"{out}/as_int", to=to)
    return ctx.add("Unsqueeze", [src, ctx.ints([-1], "axes")], f"{out}/expanded")


@emitter("Bucketize")
def bucketize(ctx: ExportContext, node: Node) -> None:
    """Count of boundaries <= x: GreaterOrEqual against them, summed over the new axis."""
    out = node.outputs[0]
    x = _expanded(ctx, node.inputs[0], out, to=None)
    ge = ctx.add("GreaterOrEqual", [x, ctx.get(node.inputs[1], CL)], f"{out}/ge")
    count = ctx.reduce("ReduceSum", ctx.add("Cast", [ge], f"{out}/ge_int", to=INT64), [-1],
                       False, f"{out}/count")
    ctx.set(out, ctx.add("Cast", [count], out, to=onnx_dtype(node.attrs.get("dtype", "int32"))),
            CL)


@emitter("Lookup")
def lookup(ctx: ExportContext, node: Node) -> None:
    """Equal against every key; ArgMax finds the hit, Where puts the default (or the
    floormod OOV bucket) where there is none."""
    a = node.attrs
    out = node.outputs[0]
    x_in, keys, values = node.inputs
    eq = ctx.add("Cast", [ctx.add("Equal", [_expanded(ctx, x_in, out), ctx.get(keys, CL)],
                                  f"{out}/eq")], f"{out}/eq_int", to=6)
    found = ctx.add("Cast", [ctx.reduce("ReduceMax", eq, [-1], False, f"{out}/any")],
                    f"{out}/found", to=9)
    pos = ctx.add("ArgMax", [eq], f"{out}/pos", axis=-1, keepdims=0)
    hit = ctx.add("Gather", [ctx.get(values, CL), pos], f"{out}/hit", axis=0)
    if a.get("oov_buckets"):
        xi = ctx.add("Cast", [ctx.get(x_in, CL)], f"{out}/x_int", to=INT64)
        bucket = ctx.add("Mod", [xi, ctx.const(np.asarray(a["oov_buckets"], np.int64), "n")],
                         f"{out}/bucket", fmod=0)
        miss = ctx.add("Add", [bucket, ctx.const(np.asarray(a.get("oov_start", 0), np.int64),
                                                 "start")], f"{out}/miss")
    else:
        miss = ctx.const(np.asarray(a.get("default", -1), np.int64), f"{out}/default")
    y = ctx.add("Where", [found, hit, miss], f"{out}/int64")
    ctx.set(out, ctx.add("Cast", [y], out, to=onnx_dtype(a.get("dtype", "int64"))), CL)


@emitter("CategoryEncode")
def category_encode(ctx: ExportContext, node: Node) -> None:
    """Equal against 0..depth-1 as float32; ReduceMax / ReduceSum over the ids' axis for
    multi_hot / count."""
    a = node.attrs
    out = node.outputs[0]
    mode = a.get("mode", "one_hot")
    ids = ctx.ints(list(range(int(a.get("depth", 1)))), "ids")
    eq = ctx.add("Equal", [_expanded(ctx, node.inputs[0], out), ids], f"{out}/eq")
    hot = ctx.add("Cast", [eq], f"{out}/one_hot", to=1)
    if mode != "one_hot":
        hot = ctx.reduce("ReduceMax" if mode == "multi_hot" else "ReduceSum", hot, [-2], False,
                         f"{out}/reduced")
    ctx.set(out, ctx.add("Cast", [hot], out, to=onnx_dtype(a.get("dtype", "float32"))), CL)


@emitter("AutoContrast")
def auto_contrast(ctx: ExportContext, node: Node) -> None:
    """Per image and channel: (y - min) * 255 / (max - min) clipped, on the 0..255 scale;
    where that is NaN (a constant channel) the input is kept."""
    out = node.outputs[0]
    lo, hi = (float(v) for v in node.attrs.get("value_range", (0.0, 255.0)))
    span = np.float32(hi) - np.float32(lo)  # in float32, as Keras
    x = ctx.get(node.inputs[0], CL)

    y = x
    if (lo, hi) != (0.0, 255.0):
        y = ctx.add("Div", [ctx.add("Sub", [x, scalar(ctx, lo)], f"{out}/shift"),
                            scalar(ctx, span)], f"{out}/unit")
        y = ctx.add("Mul", [y, scalar(ctx, 255.0)], f"{out}/to255")
    low = ctx.reduce("ReduceMin", y, [1, 2], True, f"{out}/low")
    high = ctx.reduce("ReduceMax", y, [1, 2], True, f"{out}/high")
    scale = ctx.add("Div", [scalar(ctx, 255.0), ctx.add("Sub", [high, low], f"{out}/span")],
                    f"{out}/scale")
    offset = ctx.add("Mul", [ctx.add("Neg", [low], f"{out}/neg_low"), scale], f"{out}/offset")
    pre = ctx.add("Add", [ctx.add("Mul", [y, scale], f"{out}/scaled"), offset], f"{out}/pre")
    y = ctx.add("Clip", [pre, scalar(ctx, 0.0), scalar(ctx, 255.0)], f"{out}/clip")
    if (lo, hi) != (0.0, 255.0):
        y = ctx.add("Mul", [ctx.add("Div", [y, scalar(ctx, 255.0)], f"{out}/back_unit"),
                            scalar(ctx, span)],
                    f"{out}/back_span")
        y = ctx.add("Add", [y, scalar(ctx, lo)], f"{out}/back")
    nan = ctx.add("IsNaN", [pre], f"{out}/constant")
    ctx.set(out, ctx.add("Where", [nan, x, y], out), CL)


unavailable("FarmHash", "FarmHash64 of each number's decimal form needs string formatting and "
            "64-bit multiply-rotate arithmetic that ONNX's standard ops do not have")
