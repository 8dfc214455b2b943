"""Shape, Reshape, Flatten, Transpose, Squeeze/Unsqueeze, Concat, Split, Slice, Gather, Expand,
Tile, Pad and the constant makers. Transposes only change the order a tensor is held in; shape
vectors with a free batch element stay symbolic so that PyTorch's Shape -> Gather -> Concat ->
Reshape chains fold."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kerasport.onnx_reader.context import (
    BATCH,
    UNKNOWN,
    ReadContext,
    Unsupported,
    identity,
    inverse,
)
from kerasport.onnx_reader.files import onnx_module
from kerasport.onnx_reader.helpers import aligned, optional, out
from kerasport.onnx_reader.registry import converter


@converter("Shape")
def shape(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """The input's shape as a (possibly symbolic) vector."""
    elems = ctx.sym_shape(node.input[0])
    if elems is None:
        raise Unsupported("the input's rank is unknown")
    start, end = attrs.get("start", 0), attrs.get("end")
    ctx.set_sym(out(node), elems[start:end])


@converter("Size")
def size(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """The number of elements, when every dim is known."""
    dims = ctx.shape(node.input[0])
    if dims is None or None in dims:
        raise Unsupported("Size of a tensor with free dims")
    ctx.set_const(out(node), np.asarray(math.prod(dims), np.int64))


def _target(ctx: ReadContext, x: str, target: tuple, allowzero: bool) -> list[Any]:
    dims = ctx.sym_shape(x) or ()
    return [dims[i] if t == 0 and not allowzero and i < len(dims) else t
            for i, t in enumerate(target)]


def _known_prod(dims: Any) -> int | None:
    return math.prod(dims) if all(isinstance(d, int) for d in dims) else None


def reshape_to(ctx: ReadContext, x: str, target: list[Any], name: str,
               ) -> tuple[str, tuple[int, ...]]:
    """IR value (and its order) of ``x`` reshaped to ``target`` (ints, -1, BATCH, UNKNOWN).
    A free batch must stay one axis, with the same number of elements before it."""
    dims = ctx.sym_shape(x)
    if dims is None:
        raise Unsupported("reshape of a tensor of unknown rank")
    target = [-1 if d == UNKNOWN else d for d in target]
    if target.count(-1) > 1 or target.count(BATCH) > 1 or UNKNOWN in dims and -1 in target:
        raise Unsupported(f"cannot resolve the target shape {tuple(target)} of a tensor of "
                          f"shape {dims}: give the input shapes")
    if BATCH in dims or BATCH in target:
        if BATCH not in dims or BATCH not in target:
            raise Unsupported(f"a reshape from {dims} to {tuple(target)} merges the free "
                              "batch with other axes: give the input shapes (a fixed batch)")
        j, k = dims.index(BATCH), target.index(BATCH)
        before = _known_prod(dims[:j])
        if before is None or before != _known_prod(target[:k]):
            raise Unsupported(f"a reshape from {dims} to {tuple(target)} moves data across "
                              "the free batch axis: give the input shapes (a fixed batch)")
        q = (j, *[a for a in range(len(dims)) if a != j])
        rest = [d for i, d in enumerate(target) if i != k]
        y = ctx.op("Reshape", [ctx.ir(x, q)], name, {"shape": rest})
        return y, (k, *[a for a in range(len(target)) if a != k])
    if UNKNOWN in dims:
        raise Unsupported(f"reshape of a tensor of shape {dims} with free dims: give the "
                          "input shapes")
    value = ctx.ir(x)
    if dims and target and target[0] == dims[0]:
        return ctx.op("Reshape", [value], name, {"shape": target[1:]}), identity(len(target))
    # across the first axis: add a leading 1, reshape behind it, then drop it
    lead = ctx.op("ExpandDims", [value], f"{name}/lead", {"axis": 0})
    full = ctx.op("Reshape", [lead], f"{name}/full", {"shape": target})
    zero = ctx.ir_const(f"{name}/zero", np.asarray(0, np.int64))
    return ctx.op("Take", [full, zero], name, {"axis": 0}), identity(len(target))


@converter("Reshape")
def reshape(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Reshape to a constant or symbolic target (0 copies a dim, one -1)."""
    x = node.input[0]
    target = _target(ctx, x, ctx.shape_vector(node.input[1], "the target shape"),
                     bool(attrs.get("allowzero", 0)))
    if ctx.tensor(x).sym is not None:
        raise Unsupported("reshape of a shape vector")
    ctx.set(out(node), *reshape_to(ctx, x, target, out(node)))


@converter("Flatten")
def flatten(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Flatten(axis) -> IR Flatten (axis 1) or a reshape."""
    x = node.input[0]
    dims = ctx.shape(x)
    if dims is None:
        raise Unsupported("the input's rank is unknown")
    axis = int(attrs.get("axis", 1))
    axis = axis + len(dims) if axis < 0 else axis
    if axis == 1 and len(dims) >= 2:
        ctx.set(out(node), ctx.op("Flatten", [ctx.ir(x)], out(node)))
        return
    lead = ctx.sym_shape(x)[:axis]
    first = _known_prod(lead) or (lead[0] if len(lead) == 1 else UNKNOWN)
    ctx.set(out(node), *reshape_to(ctx, x, [first, -1], out(node)))


@converter("Transpose")
def transpose(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Transpose(perm): the same IR value, held in another order (no op)."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    p = list(attrs.get("perm", list(reversed(range(rank)))))
    t = ctx.tensor(x)
    if t.sym is not None:  # a shape vector: one axis
        ctx.tensors[out(node)] = t
        return
    inv = inverse(ctx.perm(x))
    step = [inv[a] for a in p]
    ctx.set(out(node), t.name, inverse(tuple(step)))


def _axes(ctx: ReadContext, node: Any, attrs: dict[str, Any], rank: int) -> list[int] | None:
    if "axes" in attrs:
        return [int(a) % rank for a in attrs["axes"]]
    name = optional(node, 1)
    if not name:
        return None
    return [int(a) % rank for a in np.asarray(ctx.const(name, "axes")).reshape(-1)]


def _reshape_ir(ctx: ReadContext, value: str, dims: list[Any], name: str) -> str:
    rest = [-1 if d is None else d for d in dims[1:]]
    if rest.count(-1) > 1:
        raise Unsupported("more than one free dim to keep through a reshape")
    return ctx.op("Reshape", [value], name, {"shape": rest})


@converter("Squeeze")
def squeeze(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Squeeze(axes) in the order the input is held in (no transpose)."""
    x = node.input[0]
    t = ctx.tensor(x)
    dims = ctx.shape(x)
    if dims is None:
        raise Unsupported("the input's rank is unknown")
    axes = _axes(ctx, node, attrs, len(dims) or 1)
    if axes is None:
        axes = [i for i, d in enumerate(dims) if d == 1]
    if t.sym is not None:
        ctx.set_sym(out(node), t.sym, scalar=True)
        return
    perm = ctx.perm(x)
    ir_shape = list(ctx.b.values[t.name].shape)
    gone = [perm.index(a) for a in axes]
    kept = [j for j in range(len(perm)) if j not in gone]
    new_perm = tuple(perm[j] - sum(1 for a in axes if a < perm[j]) for j in kept)
    value = t.name
    if 0 in gone:
        zero = ctx.ir_const(f"{out(node)}/zero", np.asarray(0, np.int64))
        value = ctx.op("Take", [value, zero], f"{out(node)}/first", {"axis": 0})
        ir_shape = ir_shape[1:]
        gone = [j - 1 for j in gone if j != 0]
        kept = [j - 1 for j in kept]
    if gone:
        value = _reshape_ir(ctx, value, [ir_shape[j] for j in kept], out(node))
    ctx.set(out(node), value, new_perm)


@converter("Unsqueeze")
def unsqueeze(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Unsqueeze(axes): ExpandDims in ONNX order, or new trailing axes of a tensor held in
    another order."""
    x = node.input[0]
    t = ctx.tensor(x)
    dims = ctx.shape(x)
    if dims is None:
        raise Unsupported("the input's rank is unknown")
    rank = len(dims) + len(_axes(ctx, node, attrs, 1) or [])
    axes = sorted(_axes(ctx, node, attrs, rank) or [])
    if t.sym is not None:
        if t.scalar and axes == [0]:
            ctx.set_sym(out(node), t.sym)
            return
        raise Unsupported("unsqueeze of a shape vector")
    perm = ctx.perm(x)
    if perm == identity(len(dims)):
        value = t.name
        for a in axes:
            value = ctx.op("ExpandDims", [value], out(node) if a == axes[-1] else
                           f"{out(node)}/{a}", {"axis": a})
        ctx.set(out(node), value)
        return
    old = [a for a in range(rank) if a not in axes]  # new position of each old axis
    ir_shape = list(ctx.b.values[t.name].shape)
    value = _reshape_ir(ctx, t.name, ir_shape + [1] * len(axes), out(node))
    ctx.set(out(node), value, tuple(old[p] for p in perm) + tuple(axes))


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


@converter("ConstantOfShape")
def constant_of_shape(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """A fill of a shape with a free batch element: a constant with 1 there, which
    broadcasts to the batch (PyTorch's zero initial states of recurrent layers)."""
    dims = ctx.shape_vector(node.input[0], "the shape")
    if UNKNOWN in dims:
        raise Unsupported("ConstantOfShape of a shape with free dims other than the batch")
    value = attrs.get("value")
    fill = np.zeros(1, np.float32) if value is None else np.asarray(
        onnx_module().numpy_helper.to_array(value)).reshape(-1)
    ctx.set_const(out(node), np.full([1 if d == BATCH else d for d in dims], fill[0],
                                     fill.dtype))


@converter("Constant", "Range")
def constant_makers(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Folded at import when their inputs are known; shapes with free dims are refused."""
    raise Unsupported(f"{node.op_type} of a shape that is only known at run time (give the "
                      "input shapes)")



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
