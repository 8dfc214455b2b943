"""Indexing and data movement: Concat, Split, Slice, Gather, GatherElements, Expand, Tile, Pad,
DepthToSpace / SpaceToDepth (of tensors held in any order, or of shape vectors)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported
from kerasport.onnx_reader.helpers import aligned, optional, out
from kerasport.onnx_reader.registry import converter


@converter("Concat")
def concat(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Concat(axis) of tensors (in a common order) or of shape vectors."""
    names = [n for n in node.input if n]
    tensors = [ctx.tensor(n) for n in names]
    if any(t.sym is not None for t in tensors):
        if not all(t.sym is not None or t.const is not None for t in tensors):
            raise Unsupported("concatenation of a shape vector with data")
        ctx.set_sym(out(node), sum((ctx.shape_vector(n, "part") for n in names), ()))
        return
    values, perm = aligned(ctx, names)
    axis = int(attrs["axis"]) % (ctx.rank(names[0]) or 1)
    ir_axis = perm.index(axis) if perm else axis
    ctx.set(out(node), ctx.op("Concat", values, out(node), {"axis": ir_axis}), perm or None)


def _slice_ir(ctx: ReadContext, x: str, starts, ends, axes, steps, name: str) -> str:
    perm = ctx.perm(x)
    ir_axes = [perm.index(a) for a in axes]
    clamp = [int(max(min(e, 2**62), -(2**62))) for e in ends]
    return ctx.op("Slice", [ctx.ir(x, perm)], name, {
        "starts": [int(s) for s in starts], "ends": clamp, "axes": ir_axes,
        "steps": [int(s) for s in steps]})


@converter("Slice")
def slice_(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Slice with constant starts/ends/axes/steps (of tensors or shape vectors)."""
    x = node.input[0]
    rank = ctx.rank(x) or 1

    def ints(i: int, default: list[int] | None) -> list[int]:
        name = optional(node, i)
        if not name:
            return default
        return [int(v) for v in np.asarray(ctx.const(name, "a slice bound")).reshape(-1)]

    starts, ends = ints(1, None), ints(2, None)
    axes = [a % rank for a in ints(3, list(range(len(starts))))]
    steps = ints(4, [1] * len(starts))
    t = ctx.tensor(x)
    if t.sym is not None:
        ctx.set_sym(out(node), t.sym[slice(starts[0], ends[0], steps[0])])
        return
    ctx.set(out(node), _slice_ir(ctx, x, starts, ends, axes, steps, out(node)), ctx.perm(x))


@converter("Split")
def split(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Split(axis, split or num_outputs) -> one IR Slice per output."""
    x = node.input[0]
    dims = ctx.shape(x)
    axis = int(attrs.get("axis", 0)) % len(dims)
    outs = [o for o in node.output]
    name = optional(node, 1)
    if "split" in attrs or name:
        sizes = list(attrs["split"]) if "split" in attrs else [
            int(v) for v in np.asarray(ctx.const(name, "split")).reshape(-1)]
    else:
        if dims[axis] is None:
            raise Unsupported("splitting a free dim into equal parts")
        part = -(-dims[axis] // len(outs))
        sizes = [min(part, dims[axis] - i * part) for i in range(len(outs))]
    start = 0
    for o, n in zip(outs, sizes):
        if o:
            ctx.set(o, _slice_ir(ctx, x, [start], [start + n], [axis], [1], o), ctx.perm(x))
        start += n


@converter("Gather")
def gather(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Gather(axis): of shape vectors, rows of a constant table (embeddings), or IR Take."""
    data, idx = node.input[0], node.input[1]
    axis = int(attrs.get("axis", 0))
    t = ctx.tensor(data)
    if t.sym is not None:
        picks = np.asarray(ctx.const(idx, "the indices"))
        ctx.set_sym(out(node), tuple(t.sym[int(i)] for i in picks.reshape(-1)),
                    scalar=picks.ndim == 0)
        return
    rank = ctx.rank(data) or 1
    axis %= rank
    if ctx.is_const(data) and axis == 0:
        ctx.set(out(node), ctx.op("Gather", [ctx.ir(data), ctx.ir(idx)], out(node)))
        return
    if ctx.is_const(idx) and np.asarray(ctx.const(idx)).ndim <= 1:
        picks = np.asarray(ctx.const(idx)).astype(np.int64)
        perm = ctx.perm(data)
        j = perm.index(axis)
        ind = ctx.ir_const(f"{out(node)}/indices", picks)
        y = ctx.op("Take", [ctx.ir(data, perm), ind], out(node), {"axis": j})
        if picks.ndim == 1:
            ctx.set(out(node), y, perm)
        else:
            ctx.set(out(node), y, tuple(p - (p > axis) for p in perm if p != axis))
        return
    ctx.set(out(node), ctx.op("Take", [ctx.ir(data), ctx.ir(idx)], out(node), {"axis": axis}))


@converter("Expand")
def expand(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Expand(shape) -> a broadcasting Mul by ones (a free batch element broadcasts as 1)."""
    x = node.input[0]
    target = [d if isinstance(d, int) else 1 for d in ctx.shape_vector(node.input[1], "shape")]
    dims = ctx.shape(x) or ()
    if len(target) <= len(dims) and all(
            t == 1 or t == d for t, d in zip(target[::-1], dims[::-1])):
        ctx.tensors[out(node)] = ctx.tensor(x)
        return
    ones = f"{out(node)}/ones"
    ctx.set_const(ones, np.ones([max(d, 1) for d in target], ctx.dtype(x)))
    values, perm = aligned(ctx, [x, ones])
    ctx.set(out(node), ctx.op("Mul", values, out(node)), perm or None)


@converter("Tile")
def tile(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Tile with constant repeats (in the order the input is held in)."""
    x = node.input[0]
    reps = [int(r) for r in np.asarray(ctx.const(node.input[1], "repeats")).reshape(-1)]
    perm = ctx.perm(x)
    ir_reps = [reps[p] for p in perm]
    ctx.set(out(node), ctx.op("Tile", [ctx.ir(x, perm)], out(node), {"repeats": ir_reps}),
            perm)


@converter("Pad")
def pad(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Constant-mode Pad with constant pads (and axes)."""
    if attrs.get("mode", "constant") != "constant":
        raise Unsupported(f"Pad mode '{attrs['mode']}' (only 'constant')")
    x = node.input[0]
    rank = ctx.rank(x)
    pads = [int(p) for p in (attrs["pads"] if "pads" in attrs else np.asarray(
        ctx.const(node.input[1], "pads")).reshape(-1))]
    value = optional(node, 2)
    fill = float(np.asarray(ctx.const(value, "the value")).reshape(-1)[0]) if value else float(
        attrs.get("value", 0.0))
    axes_name = optional(node, 3)
    axes = [int(a) % rank for a in np.asarray(ctx.const(axes_name, "axes")).reshape(-1)] if \
        axes_name else list(range(rank))
    pairs = [[0, 0] for _ in range(rank)]
    for i, a in enumerate(axes):
        pairs[a] = [pads[i], pads[len(axes) + i]]
    if any(p < 0 for pair in pairs for p in pair):
        raise Unsupported("negative pads (cropping) are not supported")
    perm = ctx.perm(x)
    y = ctx.op("Pad", [ctx.ir(x, perm)], out(node), {"pads": [pairs[p] for p in perm],
                                                     "value": fill})
    ctx.set(out(node), y, perm)


@converter("GatherElements")
def gather_elements(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """GatherElements(axis) -> IR TakeAlong (in ONNX order)."""
    x, idx = node.input[0], node.input[1]
    axis = int(attrs.get("axis", 0)) % (ctx.rank(x) or 1)
    ctx.set(out(node), ctx.op("TakeAlong", [ctx.ir(x), ctx.ir(idx)], out(node),
                              {"axis": axis}))


@converter("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """DepthToSpace (DCR or CRD) / SpaceToDepth as reshape, transpose, reshape (NCHW)."""
    x = node.input[0]
    dims = ctx.shape(x)
    if dims is None or len(dims) != 4 or None in dims[1:]:
        raise Unsupported("needs an (N, C, H, W) input with known C, H, W")
    b = int(attrs["blocksize"])
    _, c, h, w = dims
    if node.op_type == "SpaceToDepth":
        crd = attrs.get("mode", "DCR") == "CRD"
        split, final = [c, h // b, b, w // b, b], [c * b * b, h // b, w // b]
        perm = [0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4]
    elif attrs.get("mode", "DCR") == "DCR":
        split, perm, final = [b, b, c // (b * b), h, w], [0, 3, 4, 1, 5, 2], [c // (b * b),
                                                                             h * b, w * b]
    else:
        split, perm, final = [c // (b * b), b, b, h, w], [0, 1, 4, 2, 5, 3], [c // (b * b),
                                                                             h * b, w * b]
    y = ctx.op("Reshape", [ctx.ir(x)], f"{out(node)}/split", {"shape": split})
    y = ctx.op("Transpose", [y], f"{out(node)}/move", {"perm": perm})
    ctx.set(out(node), ctx.op("Reshape", [y], out(node), {"shape": final}))
