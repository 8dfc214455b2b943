"""ONNX emitters for the Keras mask ops (MaskNotEqual, ApplyMask, MaskedMean, MaskReduce,
MaskLogical) and Fill. Masks are float32 0/1 tensors (N, T), as in ops/mask.py; a mask headed
for a recurrent op is computed time-major (see timemajor.py).
"""

from __future__ import annotations

from kerasport.export.onnx.context import CL, TM, ExportContext, emitter
from kerasport.export.onnx.helpers import FLOAT, NUMPY_DTYPES, ONNX_DTYPES, scalar
from kerasport.export.onnx.timemajor import (
    bool_of,
    has_tm,
    nonzero,
    set_mask,
    time_axis,
    time_major_for,
    wants_time_major,
)
from kerasport.ir.graph import Node


# -- masks --------------------------------------------------------------------------------
def _x_dtype(ctx: ExportContext, x: str) -> str:
    return ctx.graph.values[x].dtype


@emitter("MaskNotEqual")
def mask_not_equal(ctx: ExportContext, node: Node) -> None:
    """``x != value`` (any along ``axis`` when given), as ``dtype``."""
    x, out = node.inputs[0], node.outputs[0]
    rank = ctx.rank(x)
    axis = node.attrs.get("axis")
    value = float(node.attrs.get("value", 0.0))
    layout = CL if axis is not None and int(axis) % rank < 2 else time_major_for(ctx, x, out)
    src = ctx.get(x, layout)
    dtype = _x_dtype(ctx, x)
    if value == 0:
        ne = nonzero(ctx, src, f"{out}/ne")
    else:
        if dtype not in ("float32", "float16") and value != int(value):
            src, dtype = ctx.add("Cast", [src], f"{out}/float", to=FLOAT), "float32"
        eq = ctx.add("Equal", [src, scalar(ctx, value, dtype=dtype)], f"{out}/eq")
        ne = ctx.add("Not", [eq], f"{out}/ne")
    to = ONNX_DTYPES[node.attrs.get("dtype", "float32")]
    if axis is None:
        set_mask(ctx, out, ne, layout, to)
        return
    f = ctx.add("Cast", [ne], f"{out}/f", to=FLOAT)
    y = ctx.reduce("ReduceMax", f, [time_axis(int(axis), rank, layout)], False,
                   out if to == FLOAT else f"{out}/any")
    if to != FLOAT:
        y = ctx.add("Cast", [y], out, to=to)
    ctx.set(out, y, layout)


def _mask_column(ctx: ExportContext, mask: str, layout: str, dtype: str, base: str) -> str:
    """The mask in ``layout``, with a trailing axis of 1, cast to ``dtype``."""
    m = ctx.add("Unsqueeze", [ctx.get(mask, layout), ctx.ints([-1], "axes")], f"{base}/m")
    if dtype != "float32":
        m = ctx.add("Cast", [m], f"{base}/m_cast", to=ONNX_DTYPES[dtype])
    return m


@emitter("ApplyMask")
def apply_mask(ctx: ExportContext, node: Node) -> None:
    """x * mask[..., None] (Masking zeroes the masked steps)."""
    x, mask = node.inputs
    out = node.outputs[0]
    rank = ctx.rank(x)
    layout = time_major_for(ctx, x, out) if rank == 3 and ctx.rank(mask) == 2 else CL
    m = _mask_column(ctx, mask, layout, _x_dtype(ctx, x), out)
    ctx.set(out, ctx.add("Mul", [ctx.get(x, layout), m], out), layout)


@emitter("MaskedMean")
def masked_mean(ctx: ExportContext, node: Node) -> None:
    """Mean over time of the unmasked steps: sum(x * m) / sum(m)."""
    x, mask = node.inputs
    out = node.outputs[0]
    keep = bool(node.attrs.get("keepdims", False))
    rank = ctx.rank(x)
    # time-major only where mask[..., None] lines up with x (the kernel broadcasts plainly)
    layout = TM if has_tm(ctx, x) and ctx.rank(mask) == 2 and rank == 3 else CL
    m = _mask_column(ctx, mask, layout, _x_dtype(ctx, x), out)
    axis = 0 if layout == TM else 1
    num = ctx.reduce("ReduceSum", ctx.add("Mul", [ctx.get(x, layout), m], f"{out}/masked"),
                     [axis], keep, f"{out}/num")
    den = ctx.reduce("ReduceSum", m, [axis], keep, f"{out}/den")
    ctx.set(out, ctx.add("Div", [num, den], out), layout if keep else CL)


@emitter("MaskReduce")
def mask_reduce(ctx: ExportContext, node: Node) -> None:
    """any (ReduceMax) or all (ReduceMin) of ``x != 0`` along ``axis`` (every axis if None)."""
    x, out = node.inputs[0], node.outputs[0]
    rank = ctx.rank(x)
    axis = node.attrs.get("axis")
    keep = bool(node.attrs.get("keepdims", False))
    layout = TM if has_tm(ctx, x) and axis is not None and int(axis) % rank >= 2 else CL
    f = ctx.add("Cast", [bool_of(ctx, x, layout, f"{out}/ne")], f"{out}/f", to=FLOAT)
    axes = list(range(rank)) if axis is None else [time_axis(int(axis), rank, layout)]
    op = "ReduceMax" if node.attrs.get("mode", "any") == "any" else "ReduceMin"
    y = ctx.reduce(op, f, axes, keep, out)
    out_rank = rank if keep else rank - len(axes)
    ctx.set(out, y, layout if out_rank >= 2 else CL)


@emitter("MaskLogical")
def mask_logical(ctx: ExportContext, node: Node) -> None:
    """and / or of two 0/1 tensors, or not of one, as 0/1 float32."""
    out = node.outputs[0]
    mode = node.attrs.get("mode", "and")
    args = [v for v in node.inputs if v]
    ranks = {ctx.rank(v) for v in args}
    layout = time_major_for(ctx, args[0], out) if len(ranks) == 1 else CL
    if layout == TM and not all(has_tm(ctx, v) for v in args) and not wants_time_major(ctx, out):
        layout = CL
    bools = [bool_of(ctx, v, layout, f"{out}/b{i}") for i, v in enumerate(args)]
    if mode == "not":
        y = ctx.add("Not", bools[:1], f"{out}/not")
    else:
        y = ctx.add("And" if mode == "and" else "Or", bools[:2], f"{out}/{mode}")
    set_mask(ctx, out, y, layout)


@emitter("Fill")
def fill(ctx: ExportContext, node: Node) -> None:
    """ConstantOfShape(Shape(x)) holding ``value``."""
    from onnx import helper

    x, out = node.inputs[0], node.outputs[0]
    dtype = node.attrs.get("dtype", "float32")
    shape = ctx.add("Shape", [ctx.get(x, CL)], f"{out}/shape")
    value = helper.make_tensor(f"{out}/value", ONNX_DTYPES[dtype], [1],
                               [NUMPY_DTYPES[dtype](node.attrs.get("value", 0.0))])
    ctx.set(out, ctx.add("ConstantOfShape", [shape], out, value=value), CL)
