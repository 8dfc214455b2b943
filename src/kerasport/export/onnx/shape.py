"""ONNX emitters for the shape ops: reshape, flatten, transpose, pad, crop, concatenate, expand
dims, and the sequence helpers Gather (Embedding), Reverse, FoldTime and UnfoldTime
(TimeDistributed), which stay time-major when their sequence is (see timemajor.py)."""

from __future__ import annotations

import numpy as np

from kerasport.export.onnx.context import CF, CL, TM, ExportContext, emitter, to_cf
from kerasport.export.onnx.timemajor import (
    has_tm,
    reverse_axis,
    time_axis,
    time_major_for,
)
from kerasport.ir.graph import Node

INT64_MAX = np.iinfo(np.int64).max


@emitter("Reshape")
def reshape(ctx: ExportContext, node: Node) -> None:
    """Reshape the non-batch dims (channels-last order); 0 keeps the batch."""
    shape = ctx.ints([0, *node.attrs.get("shape", [-1])], "shape")
    ctx.set(node.outputs[0], ctx.add("Reshape", [ctx.get(node.inputs[0], CL), shape],
                                     node.outputs[0]), CL)


@emitter("Flatten")
def flatten(ctx: ExportContext, node: Node) -> None:
    """Flatten to (N, -1) in channels-last order."""
    ctx.set(node.outputs[0], ctx.add("Flatten", [ctx.get(node.inputs[0], CL)], node.outputs[0],
                                     axis=1), CL)


@emitter("Transpose")
def transpose(ctx: ExportContext, node: Node) -> None:
    """Transpose(perm) of the channels-last tensor (composed with a channels-first input's
    layout, so no extra transpose is added)."""
    x = node.inputs[0]
    perm = list(node.attrs.get("perm", [0]))
    rank = ctx.rank(x)
    if CF in ctx.layouts(x) and rank >= 3:
        perm = [to_cf(rank).index(p) for p in perm]
        src = ctx.get(x, CF)
    else:
        src = ctx.get(x, CL)
    ctx.set(node.outputs[0], ctx.add("Transpose", [src], node.outputs[0], perm=perm), CL)


def _layout_for(ctx: ExportContext, x: str) -> str:
    return CF if CF in ctx.layouts(x) and ctx.rank(x) >= 3 else CL


def _permute_pairs(pairs: list, rank: int, layout: str) -> list:
    return [pairs[p] for p in to_cf(rank)] if layout == CF else list(pairs)


@emitter("Pad")
def pad(ctx: ExportContext, node: Node) -> None:
    """Constant padding."""
    x = node.inputs[0]
    rank = ctx.rank(x)
    layout = _layout_for(ctx, x)
    pairs = _permute_pairs([tuple(p) for p in node.attrs.get("pads")], rank, layout)
    pads = ctx.ints([p[0] for p in pairs] + [p[1] for p in pairs], "pads")
    value = ctx.const(np.asarray(node.attrs.get("value", 0.0), np.float32), "pad_value")
    ctx.set(node.outputs[0], ctx.add("Pad", [ctx.get(x, layout), pads, value], node.outputs[0],
                                     mode="constant"), layout)


@emitter("Crop")
def crop(ctx: ExportContext, node: Node) -> None:
    """Cropping as Slice (ends counted from the end of each axis)."""
    x = node.inputs[0]
    rank = ctx.rank(x)
    layout = _layout_for(ctx, x)
    pairs = _permute_pairs([tuple(p) for p in node.attrs.get("crops")], rank, layout)
    axes = [i for i, (b, a) in enumerate(pairs) if b or a]
    if not axes:
        ctx.set(node.outputs[0], ctx.get(x, layout), layout)
        return
    starts = ctx.ints([pairs[i][0] for i in axes], "starts")
    ends = ctx.ints([-pairs[i][1] if pairs[i][1] else INT64_MAX for i in axes], "ends")
    y = ctx.add("Slice", [ctx.get(x, layout), starts, ends, ctx.ints(axes, "axes")],
                node.outputs[0])
    ctx.set(node.outputs[0], y, layout)


@emitter("Concat")
def concat(ctx: ExportContext, node: Node) -> None:
    """Concatenate in the first input's layout (axis remapped)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(list(node.inputs)) if rank >= 3 else CL
    axis = ctx.axis(int(node.attrs.get("axis", -1)), rank, layout)
    y = ctx.add("Concat", [ctx.get(v, layout) for v in node.inputs], node.outputs[0], axis=axis)
    ctx.set(node.outputs[0], y, layout)


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
    if axis == 1 and x in ctx.held.input_order:
        ctx.set(out, ctx.held.input_order[x], TM)
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
    ctx.held.folded[x] = layout
    ctx.set(out, ctx.add("Reshape", [src, shape], out), CL)


@emitter("UnfoldTime")
def unfold_time(ctx: ExportContext, node: Node) -> None:
    """(N*T, ...) -> (N, T, ...) in the order FoldTime used (time-major if it did)."""
    y, like = node.inputs
    out = node.outputs[0]
    layout = ctx.held.folded.get(like, CL)
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


@emitter("ExpandDims")
def expand_dims(ctx: ExportContext, node: Node) -> None:
    """Unsqueeze at ``axis`` (counted in the output's rank), channels-last."""
    x, out = node.inputs[0], node.outputs[0]
    axis = int(node.attrs.get("axis", -1)) % (ctx.rank(x) + 1)
    y = ctx.add("Unsqueeze", [ctx.get(x, CL), ctx.ints([axis], f"{out}/axes")], out)
    ctx.set(out, y, CL)


@emitter("Slice")
def slice_(ctx: ExportContext, node: Node) -> None:
    """Slice with starts/ends/axes/steps as int64 inputs (channels-last axes)."""
    a = node.attrs
    big = [min(max(int(v), -INT64_MAX), INT64_MAX) for v in a.get("ends", [0])]
    ins = [ctx.get(node.inputs[0], CL), ctx.ints(list(a.get("starts", [0])), "starts"),
           ctx.ints(big, "ends"), ctx.ints(list(a.get("axes", [0])), "axes"),
           ctx.ints(list(a.get("steps", [1])), "steps")]
    ctx.set(node.outputs[0], ctx.add("Slice", ins, node.outputs[0]), CL)


@emitter("Take")
def take(ctx: ExportContext, node: Node) -> None:
    """Gather(axis) of the channels-last tensor."""
    x, idx = node.inputs
    ctx.set(node.outputs[0], ctx.add("Gather", [ctx.get(x, CL), ctx.get(idx, CL)],
                                     node.outputs[0], axis=int(node.attrs.get("axis", 0))), CL)


@emitter("Tile")
def tile(ctx: ExportContext, node: Node) -> None:
    """Tile with the repeats as an int64 input."""
    reps = ctx.ints(list(node.attrs.get("repeats", [1])), "repeats")
    ctx.set(node.outputs[0], ctx.add("Tile", [ctx.get(node.inputs[0], CL), reps],
                                     node.outputs[0]), CL)


@emitter("TakeAlong")
def take_along(ctx: ExportContext, node: Node) -> None:
    """GatherElements(axis) of the channels-last tensors."""
    x, idx = node.inputs
    ctx.set(node.outputs[0], ctx.add("GatherElements", [ctx.get(x, CL), ctx.get(idx, CL)],
                                     node.outputs[0], axis=int(node.attrs.get("axis", 0))), CL)
