"""ONNX emitters for the sequence helpers — Gather (Embedding), Reverse, FoldTime, UnfoldTime —
and the Keras mask ops (MaskNotEqual, ApplyMask, MaskedMean, MaskReduce, MaskLogical).

ONNX Runtime runs recurrent ops time-major only, so a sequence that feeds one is held
time-major (``TM`` in context.py: (N, T, ...) as (T, N, ...)) from where it is made: Embedding
gathers with transposed token ids, masks are computed time-major, and TimeDistributed folds
time-major when its input already is. A batch-major op that meets such a value gets one
Transpose (context.get).

Masks are float32 0/1 tensors (N, T), as in ops/mask.py.
"""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, TIME_MAJOR, TM, ExportContext, emitter
from kerasport.export.onnx.helpers import BOOL, FLOAT, NUMPY_DTYPES, ONNX_DTYPES, scalar
from kerasport.ir.graph import Node
from kerasport.ops import get_op

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
BOOL_TM = "bool_tm"  # where-key of a time-major mask's bool form (read by the recurrent ops)


def consumers(ctx: ExportContext, value: str) -> list[Node]:
    """IR nodes that read ``value``."""
    return [n for n in ctx.graph.nodes if value in n.inputs]


def used(ctx: ExportContext, value: str) -> bool:
    """True if ``value`` is read by a node or is a graph output."""
    return value in ctx.graph.outputs or bool(consumers(ctx, value))


def mask_index(op: str) -> int:
    """Position of the optional mask among a recurrent op's inputs (its ``mask_input``)."""
    index = get_op(op).traits.mask_input
    if index is None:
        raise KerasportError(f"op '{op}' takes no mask")
    return index


def time_major_recurrent(op: str) -> bool:
    """True for the recurrent ops whose ONNX emitter runs time-major (ConvLSTM's Scan takes
    its input batch-major; see conv_recurrent.py)."""
    return get_op(op).traits.recurrent and op in TIME_MAJOR


def wants_time_major(ctx: ExportContext, value: str) -> bool:
    """True if ``value`` reaches a recurrent op (as its sequence or its mask) directly or
    through ops that follow their input's layout."""
    for n in consumers(ctx, value):
        if time_major_recurrent(n.op) and (n.inputs[0] == value or value in n.inputs[
                mask_index(n.op):]):
            return True
        if get_op(n.op).traits.keeps_time_axis and wants_time_major(ctx, n.outputs[0]):
            return True
    return False


def has_tm(ctx: ExportContext, value: str) -> bool:
    """True if ``value`` is already held time-major."""
    return (value, TM) in ctx.where


def time_major_for(ctx: ExportContext, x: str, out: str, min_rank: int = 2) -> str:
    """TM if ``x`` already is, or if ``out`` is headed for a recurrent op; else CL."""
    if ctx.rank(x) >= min_rank and (has_tm(ctx, x) or wants_time_major(ctx, out)):
        return TM
    return CL


def time_axis(axis: int, rank: int, layout: str) -> int:
    """A channels-last axis index in CL or TM."""
    axis %= rank
    return {0: 1, 1: 0}.get(axis, axis) if layout == TM else axis


def reverse_axis(ctx: ExportContext, x: str, axis: int, base: str) -> str:
    """``x`` (an ONNX name) reversed along ``axis``: Slice with step -1."""
    return ctx.add("Slice", [x, ctx.ints([-1], "starts"), ctx.ints([INT64_MIN], "ends"),
                             ctx.ints([axis], "axes"), ctx.ints([-1], "steps")], base)


def nonzero(ctx: ExportContext, x: str, base: str) -> str:
    """bool tensor ``x != 0`` (NaN counts as non-zero, as in NumPy)."""
    return ctx.add("Cast", [x], base, to=BOOL)


def bool_of(ctx: ExportContext, value: str, layout: str, base: str) -> str:
    """IR ``value`` != 0 as bool in ``layout`` (a mask's cached bool form when there is one)."""
    if layout == TM and (value, BOOL_TM) in ctx.where:
        return ctx.where[(value, BOOL_TM)]
    return nonzero(ctx, ctx.get(value, layout), base)


def _only_recurrent_masks(ctx: ExportContext, value: str) -> bool:
    readers = consumers(ctx, value)
    return bool(readers) and value not in ctx.graph.outputs and all(
        time_major_recurrent(n.op) and n.inputs[0] != value and value in n.inputs[mask_index(n.op):]
        for n in readers)


def set_mask(ctx: ExportContext, out: str, bools: str, layout: str, to: int = FLOAT) -> None:
    """Record a 0/1 mask from its bool form; a time-major mask that only recurrent ops read
    stays bool (they need nothing else)."""
    if layout == TM:
        ctx.where[(out, BOOL_TM)] = bools
        if _only_recurrent_masks(ctx, out):
            return
    ctx.set(out, ctx.add("Cast", [bools], out, to=to), layout)


# -- sequence helpers ---------------------------------------------------------------------
@emitter("Gather")
def gather(ctx: ExportContext, node: Node) -> None:
    """Embedding rows: Gather(table, ids, axis=0); time-major ids give a time-major result."""
    table, ids = node.inputs
    out = node.outputs[0]
    layout = time_major_for(ctx, ids, out)
    ctx.set(out, ctx.add("Gather", [ctx.get(table, CL), ctx.get(ids, layout)], out, axis=0),
            layout)


@emitter("Reverse")
def reverse(ctx: ExportContext, node: Node) -> None:
    """Reverse along an axis (Slice, step -1); a recurrent op with go_backwards that already
    gave its outputs in input order makes it free."""
    x, out = node.inputs[0], node.outputs[0]
    rank = ctx.rank(x)
    axis = int(node.attrs.get("axis", 1)) % rank
    if axis == 1 and (x, "tm_reversed") in ctx.where:
        ctx.set(out, ctx.where[(x, "tm_reversed")], TM)
        return
    layout = time_major_for(ctx, x, out)
    if layout == CL and CF in ctx.layouts(x) and rank >= 3:
        layout = CF
    src = ctx.get(x, layout)
    ax = ctx.axis(axis, rank, CF) if layout == CF else time_axis(axis, rank, layout)
    ctx.set(out, reverse_axis(ctx, src, ax, out), layout)


def _tail_shape(ctx: ExportContext, x: str, shape: tuple, start: int, base: str) -> str:
    """int64 ONNX shape of ``shape[start:]``: a constant when every dim is known."""
    tail = list(shape[start:])
    if all(isinstance(d, int) for d in tail):
        return ctx.ints(tail, "shape")
    full = ctx.add("Shape", [x], f"{base}/shape")
    return ctx.add("Slice", [full, ctx.ints([start]), ctx.ints([INT64_MAX])], f"{base}/tail")


@emitter("FoldTime")
def fold_time(ctx: ExportContext, node: Node) -> None:
    """(N, T, ...) -> (N*T, ...). A time-major input folds as (T*N, ...): the layer inside
    TimeDistributed works row by row, and UnfoldTime undoes the same order."""
    x, out = node.inputs[0], node.outputs[0]
    layout = TM if has_tm(ctx, x) and CL not in ctx.layouts(x) else CL
    src = ctx.get(x, layout)
    rest = list(ctx.shape(x)[2:])
    if all(isinstance(d, int) for d in rest):
        shape = ctx.ints([-1, *rest], "shape")
    else:
        shape = ctx.add("Concat", [ctx.ints([-1]), _tail_shape(ctx, src, ctx.shape(x), 2, out)],
                        f"{out}/target", axis=0)
    ctx.where[(x, "folded")] = layout
    ctx.set(out, ctx.add("Reshape", [src, shape], out), CL)


@emitter("UnfoldTime")
def unfold_time(ctx: ExportContext, node: Node) -> None:
    """(N*T, ...) -> (N, T, ...) in the order FoldTime used (time-major if it did)."""
    y, like = node.inputs
    out = node.outputs[0]
    layout = ctx.where.get((like, "folded"), CL)
    src = ctx.get(y, CL)
    t = ctx.shape(like)[1]
    rest = list(ctx.shape(y)[1:])
    lead = [t, -1] if layout == TM else [-1, t]
    if t is not None and all(isinstance(d, int) for d in rest):
        target = ctx.ints(lead + rest, "shape")
    else:
        if t is not None:
            head = ctx.ints(lead, "lead")
        else:
            shape = ctx.add("Shape", [ctx.get(like, layout)], f"{out}/like_shape")
            head = ctx.add("Slice", [shape, ctx.ints([0]), ctx.ints([2])], f"{out}/lead")
        tail = _tail_shape(ctx, src, ctx.shape(y), 1, out)
        target = ctx.add("Concat", [head, tail], f"{out}/target", axis=0)
    ctx.set(out, ctx.add("Reshape", [src, target], out), layout)


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


@emitter("ExpandDims")
def expand_dims(ctx: ExportContext, node: Node) -> None:
    """Unsqueeze at ``axis`` (counted in the output's rank), channels-last."""
    x, out = node.inputs[0], node.outputs[0]
    axis = int(node.attrs.get("axis", -1)) % (ctx.rank(x) + 1)
    y = ctx.add("Unsqueeze", [ctx.get(x, CL), ctx.ints([axis], f"{out}/axes")], out)
    ctx.set(out, y, CL)


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
