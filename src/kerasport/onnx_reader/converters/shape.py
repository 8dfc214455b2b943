"""Shape, Size, Reshape, Flatten, Transpose, Squeeze / Unsqueeze and the constant makers.
Transposes only change the order a tensor is held in; shape vectors with a free batch element
stay symbolic so that PyTorch's Shape -> Gather -> Concat -> Reshape chains fold."""

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
from kerasport.onnx_reader.helpers import optional, out
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
