"""MaxPool / AveragePool (pads, auto_pad, ceil_mode, count_include_pad) and the global pools,
channels-last. Padded averages divide by a count map computed at import."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported, channels_last
from kerasport.onnx_reader.converters.conv import conv_pads
from kerasport.onnx_reader.helpers import out, pad_ir
from kerasport.onnx_reader.registry import converter
from kerasport.ops.pool import Pool

LOWEST = float(np.finfo(np.float32).min)


def _ceil_extra(sizes: tuple, pads: list, ksize: list[int], strides: list[int]) -> list[int]:
    """Extra padding after each axis that ceil_mode needs (the last window starts inside)."""
    extra = []
    for s, (b, a), k, st in zip(sizes, pads, ksize, strides):
        if s is None:
            raise Unsupported("ceil_mode needs the spatial size, which is free")
        span = s + b + a - k
        o = math.ceil(span / st) + 1
        if (o - 1) * st >= s + b:
            o -= 1
        extra.append(max(0, (o - 1) * st + k - (s + b + a)))
    return extra


def _count_map(sizes: tuple, pads: list, extra: list[int], include_pad: bool, ksize: list[int],
               strides: list[int]) -> np.ndarray | None:
    """Fraction of each window that counts (None when every window is full)."""
    inner = np.ones((1, *sizes, 1), np.float32)
    full = [(b, a + e) for (b, a), e in zip(pads, extra)]
    if include_pad:
        inner = np.pad(inner, [(0, 0), *pads, (0, 0)], constant_values=1.0)
        full = [(0, e) for e in extra]
    mask = np.pad(inner, [(0, 0), *full, (0, 0)])
    frac = Pool(mask, mode="avg", pool_size=ksize, strides=strides, padding="valid")
    return None if np.all(frac == 1.0) else frac.astype(np.float32)


@converter("MaxPool", "AveragePool")
def pool(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Max/average pooling -> IR Pad + Pool('valid') (+ a Div by the count map)."""
    if len([o for o in node.output if o]) > 1:
        raise Unsupported("the indices output of MaxPool is not supported")
    x = node.input[0]
    ksize = list(attrs["kernel_shape"])
    r = len(ksize)
    strides = list(attrs.get("strides", [1] * r))
    if any(d != 1 for d in attrs.get("dilations", [1] * r)):
        raise Unsupported("dilated pooling is not supported")
    pads = conv_pads(ctx, x, attrs, ksize, strides, [1] * r)
    sizes = (ctx.shape(x) or (None,) * (r + 2))[2:]
    extra = _ceil_extra(sizes, pads, ksize, strides) if attrs.get("ceil_mode", 0) else [0] * r
    perm = channels_last(r + 2)
    is_max = node.op_type == "MaxPool"
    full = [(b, a + e) for (b, a), e in zip(pads, extra)]
    xi = pad_ir(ctx, ctx.ir(x, perm), full, LOWEST if is_max else 0.0, out(node))
    attrs_ir = {"mode": "max" if is_max else "avg", "pool_size": ksize, "strides": strides,
                "padding": "valid"}
    count = None
    if not is_max and any(p != (0, 0) for p in full):
        if None in sizes:
            raise Unsupported("padded average pooling needs the spatial size, which is free")
        count = _count_map(sizes, pads, extra, bool(attrs.get("count_include_pad", 0)), ksize,
                           strides)
    if count is None:
        ctx.set(out(node), ctx.op("Pool", [xi], out(node), attrs_ir), perm)
        return
    y = ctx.op("Pool", [xi], f"{out(node)}/sum", attrs_ir)
    c = ctx.ir_const(f"{ctx.layer}/count", count)
    ctx.set(out(node), ctx.op("Div", [y, c], out(node)), perm)


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Global pools -> IR Reduce over the spatial axes (kept as 1), channels-last."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None or rank < 3:
        raise Unsupported("needs an input of rank >= 3")
    perm = channels_last(rank)
    mode = "mean" if node.op_type == "GlobalAveragePool" else "max"
    y = ctx.op("Reduce", [ctx.ir(x, perm)], out(node),
               {"mode": mode, "axes": list(range(1, rank - 1)), "keepdims": True})
    ctx.set(out(node), y, perm)


def _reduce_axes(ctx: ReadContext, node: Any, attrs: dict[str, Any], rank: int) -> list[int]:
    if "axes" in attrs:
        return sorted(int(a) % rank for a in attrs["axes"])
    name = node.input[1] if len(node.input) > 1 and node.input[1] else ""
    axes = [] if not name else [int(a) % rank for a in np.asarray(
        ctx.const(name, "axes")).reshape(-1)]
    if axes:
        return sorted(axes)
    return [] if attrs.get("noop_with_empty_axes", 0) else list(range(rank))


# op -> (step before, reduction, step after): steps are IR Math functions, "square" or "exp"
_REDUCE = {"ReduceMean": (None, "mean", None), "ReduceMax": (None, "max", None),
           "ReduceMin": ("neg", "max", "neg"), "ReduceSum": (None, "sum", None),
           "ReduceL1": ("abs", "sum", None), "ReduceL2": ("square", "sum", "sqrt"),
           "ReduceSumSquare": ("square", "sum", None), "ReduceLogSum": (None, "sum", "log"),
           "ReduceLogSumExp": ("exp", "sum", "log")}


def _step(ctx: ReadContext, fn: str, value: str, name: str) -> str:
    if fn == "square":
        return ctx.op("Mul", [value, value], name)
    if fn == "exp":
        return ctx.op("Exp", [value], name)
    return ctx.op("Math", [value], name, {"fn": fn})


def _check_reduce(ctx: ReadContext, node: Any, x: str, axes: list[int]) -> None:
    dims = ctx.shape(x)
    if any(dims[a] == 0 for a in axes):
        raise Unsupported("reduction over an empty axis")
    kind = np.dtype(ctx.dtype(x)).kind
    base = _REDUCE[node.op_type][1]
    if (base != "max" and kind != "f") or (node.op_type == "ReduceMin" and kind not in "fi"):
        raise Unsupported(f"{node.op_type} of {ctx.dtype(x)} values")
    if base == "sum" and any(dims[a] is None for a in axes):
        raise Unsupported(f"{node.op_type} over a free dim")


@converter(*_REDUCE)
def reduce(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Reduce* -> IR Reduce (mean or max) in the order the input is held in, with elementwise
    steps around it: a sum is a mean times the count, min is -max(-x), L2 sqrt(sum(x*x)),
    LogSumExp log(sum(exp(x)))."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axes = _reduce_axes(ctx, node, attrs, rank)
    if not axes:
        ctx.tensors[out(node)] = ctx.tensor(x)
        return
    _check_reduce(ctx, node, x, axes)
    keep = bool(attrs.get("keepdims", 1))
    pre, base, post = _REDUCE[node.op_type]
    perm = ctx.perm(x)
    value = ctx.ir(x, perm)
    if pre:
        value = _step(ctx, pre, value, f"{out(node)}/{pre}")
    last = post is None and base != "sum"
    y = ctx.op("Reduce", [value], out(node) if last else f"{out(node)}/reduce",
               {"mode": "mean" if base == "sum" else base,
                "axes": sorted(perm.index(a) for a in axes), "keepdims": keep})
    if base == "sum":
        dims = ctx.shape(x)
        count = ctx.ir_const(f"{ctx.layer}/count",
                             np.asarray(math.prod(dims[a] for a in axes), ctx.dtype(x)))
        y = ctx.op("Mul", [y, count], out(node) if post is None else f"{out(node)}/sum")
    if post:
        y = _step(ctx, post, y, out(node))
    new_perm = perm if keep else tuple(
        p - sum(1 for a in axes if a < p) for p in perm if p not in axes)
    ctx.set(out(node), y, new_perm)


@converter("ArgMax", "ArgMin")
def arg(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """ArgMax / ArgMin -> IR Arg along the axis, in the order the input is held in."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axis = int(attrs.get("axis", 0)) % rank
    keep = bool(attrs.get("keepdims", 1))
    perm = ctx.perm(x)
    y = ctx.op("Arg", [ctx.ir(x, perm)], out(node), {
        "axis": perm.index(axis), "keepdims": keep, "mode": node.op_type[3:].lower(),
        "last": bool(attrs.get("select_last_index", 0))})
    new_perm = perm if keep else tuple(p - (p > axis) for p in perm if p != axis)
    ctx.set(out(node), y, new_perm)
