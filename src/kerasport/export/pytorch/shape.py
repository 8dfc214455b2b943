"""Data movement: reshape, flatten, permute, pad, crop, concatenate, gather (nn.Embedding),
time folding. Reshapes and permutations work on the channels-last (Keras) order; padding,
cropping, flipping and concatenation stay in the layout their inputs are held."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import axis_in, emitter, py, pylist
from kerasport.ir.graph import Node


def _x(ctx: ModuleContext, node: Node) -> str:
    return ctx.get(node.inputs[0], "cl")


@emitter("Reshape")
def emit_reshape(ctx: ModuleContext, node: Node) -> None:
    """x.reshape(batch, *shape)."""
    x = _x(ctx, node)
    dims = ", ".join(str(int(d)) for d in ctx.attrs(node)["shape"])
    ctx.assign(node, f"{x}.reshape({x}.shape[0], {dims})")


@emitter("Flatten")
def emit_flatten(ctx: ModuleContext, node: Node) -> None:
    """x.flatten(1) in Keras' (channels-last) order."""
    ctx.assign(node, f"{_x(ctx, node)}.flatten(1)")


@emitter("Transpose")
def emit_transpose(ctx: ModuleContext, node: Node) -> None:
    """x.permute(perm)."""
    perm = ", ".join(str(int(p)) for p in ctx.attrs(node)["perm"])
    ctx.assign(node, f"{_x(ctx, node)}.permute({perm})")


@emitter("ExpandDims")
def emit_expand_dims(ctx: ModuleContext, node: Node) -> None:
    """x.unsqueeze(axis)."""
    axis = int(ctx.attrs(node)["axis"]) % ctx.rank(node.outputs[0])
    ctx.assign(node, f"{_x(ctx, node)}.unsqueeze({axis})")


@emitter("FoldTime")
def emit_fold_time(ctx: ModuleContext, node: Node) -> None:
    """(N, T, ...) -> (N*T, ...): x.flatten(0, 1)."""
    ctx.assign(node, f"{_x(ctx, node)}.flatten(0, 1)")


@emitter("UnfoldTime")
def emit_unfold_time(ctx: ModuleContext, node: Node) -> None:
    """(N*T, ...) -> (N, T, ...), N and T from ``like``."""
    like = ctx.get(node.inputs[1], ctx.layout(node.inputs[1]))
    ctx.assign(node, f"{_x(ctx, node)}.unflatten(0, ({like}.shape[0], {like}.shape[1]))")


def _pairs_in_layout(ctx: ModuleContext, src: str, pairs: list, layout: str) -> list:
    rank = ctx.rank(src)
    out = [(0, 0)] * rank
    for axis, pair in enumerate(pairs):
        out[axis_in(axis, rank, layout)] = tuple(int(p) for p in pair)
    return out


@emitter("Pad")
def emit_pad(ctx: ModuleContext, node: Node) -> None:
    """F.pad(x, pads, value=...) with the pads of every axis (last axis first, as torch)."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    a = ctx.attrs(node)
    pairs = _pairs_in_layout(ctx, src, list(a["pads"]), layout)
    while len(pairs) > 1 and pairs[0] == (0, 0):
        pairs = pairs[1:]
    flat = [p for pair in reversed(pairs) for p in pair]
    value = float(a.get("value", 0.0))
    tail = f", value={py(value)}" if value else ""
    ctx.assign(node, f"F.pad({ctx.get(src, layout)}, {pylist(flat)}{tail})", layout)


@emitter("Crop")
def emit_crop(ctx: ModuleContext, node: Node) -> None:
    """x[..., before:-after, ...]."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    pairs = _pairs_in_layout(ctx, src, list(ctx.attrs(node)["crops"]), layout)
    sl = ", ".join(":" if (b, e) == (0, 0) else f"{b or ''}:{-e if e else ''}"
                   for b, e in pairs)
    ctx.assign(node, f"{ctx.get(src, layout)}[{sl}]", layout)


@emitter("Reverse")
def emit_reverse(ctx: ModuleContext, node: Node) -> None:
    """torch.flip(x, [axis])."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    dim = axis_in(int(ctx.attrs(node)["axis"]), ctx.rank(src), layout)
    ctx.assign(node, f"torch.flip({ctx.get(src, layout)}, [{dim}])", layout)


@emitter("Concat")
def emit_concat(ctx: ModuleContext, node: Node) -> None:
    """torch.cat([...], dim) (every input in one layout)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.prefer(list(node.inputs))
    xs = [ctx.operand(node, n, layout, rank, inline=False) for n in node.inputs]
    dim = axis_in(int(ctx.attrs(node)["axis"]), rank, layout)
    parts = f"[{', '.join(xs)}]"
    if len(parts) > 60:  # a long list on its own line(s)
        var = ctx.vars.new(f"{ctx.base_name(node)}_inputs")
        ctx.line(f"{var} = {parts}")
        parts = var
    ctx.assign(node, f"torch.cat({parts}, dim={dim})", layout)


@emitter("Gather")
def emit_gather(ctx: ModuleContext, node: Node) -> None:
    """nn.Embedding for a stored 2-d table, else table[indices]."""
    table, idx = node.inputs
    ids = f"{ctx.get(idx, 'cl')}.long()"
    if ctx.is_const(table) and ctx.const(table).ndim == 2 and ctx.const(table).dtype.kind == "f":
        t = ctx.const(table).astype(np.float32)
        mod = ctx.module(node, f"nn.Embedding({t.shape[0]}, {t.shape[1]})", {"weight": t})
        ctx.assign(node, f"{mod}({ids})")
        return
    ctx.assign(node, f"{ctx.operand(node, table, 'cl', 8, inline=False)}[{ids}]")


@emitter("Slice")
def emit_slice(ctx: ModuleContext, node: Node) -> None:
    """x[start:end:step] per axis; a negative step (torch slices take positive ones) is a
    flip of that axis and the mirrored positive slice."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    rank, shape = ctx.rank(src), ctx.shape(src)
    index, flips = [":"] * rank, []
    for s, e, ax, st in zip(a["starts"], a["ends"], a["axes"], a["steps"]):
        ax, s, e, st = int(ax) % rank, int(s), min(int(e), 2**62), int(st)
        if st < 0:
            if shape[ax] is None:
                raise KerasportError("a negative-step slice of an axis of unknown size")
            picked = range(*slice(s, e, st).indices(shape[ax]))
            flips.append(ax)
            n = shape[ax]
            s, e, st = (n - 1 - picked[0], n - picked[-1], -st) if picked else (0, 0, 1)
        index[ax] = f"{s}:{e}" + (f":{st}" if st != 1 else "")
    x = ctx.get(src, "cl")
    if flips:
        x = f"torch.flip({x}, {list(flips)})"
    ctx.assign(node, f"{x}[{', '.join(index)}]")


@emitter("Take")
def emit_take(ctx: ModuleContext, node: Node) -> None:
    """torch.index_select along the axis (negative indices wrapped), reshaped as np.take."""
    src, idx = node.inputs
    rank = ctx.rank(src)
    dim = int(ctx.attrs(node).get("axis", 0)) % rank
    x = ctx.get(src, "cl")
    if ctx.is_const(idx) and ctx.const(idx).ndim == 0:
        ctx.assign(node, f"{x}.select({dim}, {int(ctx.const(idx))})")
        return
    i = ctx.operand(node, idx, "cl", 8, inline=False)
    wrapped = f"torch.remainder({i}.long(), {x}.shape[{dim}])"
    ctx.assign(node, f"torch.index_select({x}, {dim}, {wrapped}.flatten()).unflatten("
                     f"{dim}, {i}.shape)")


@emitter("TakeAlong")
def emit_take_along(ctx: ModuleContext, node: Node) -> None:
    """torch.gather along the axis (negative indices wrapped)."""
    src, idx = node.inputs
    dim = int(ctx.attrs(node).get("axis", 0)) % ctx.rank(src)
    x = ctx.get(src, "cl")
    i = ctx.operand(node, idx, "cl", 8, inline=False)
    ctx.assign(node, f"torch.gather({x}, {dim}, torch.remainder({i}.long(), {x}.shape[{dim}]))")


@emitter("Tile")
def emit_tile(ctx: ModuleContext, node: Node) -> None:
    """x.repeat(repeats) (np.tile with one count per axis)."""
    reps = ", ".join(str(int(r)) for r in ctx.attrs(node)["repeats"])
    ctx.assign(node, f"{ctx.get(node.inputs[0], 'cl')}.repeat({reps})")
