"""Pooling as nn.MaxPoolNd / nn.AvgPoolNd (channels-first) and reductions as torch.mean /
torch.amax. Keras 'same' max pooling pads with -inf first; 'same' average pooling divides by
the number of real pixels in each window (``avg_pool_same``)."""

from __future__ import annotations

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import emitter, py, pylist
from kerasport.ir.graph import Node


@emitter("Pool")
def emit_pool(ctx: ModuleContext, node: Node) -> None:
    """nn.MaxPoolNd / nn.AvgPoolNd; 'same' through ``same_pad`` or ``avg_pool_same``."""
    a = ctx.attrs(node)
    size, strides = tuple(a["pool_size"]), tuple(a["strides"])
    r = len(size)
    x = ctx.get(node.inputs[0], "cf")
    kind = "Max" if a["mode"] == "max" else "Avg"
    if a["padding"] == "same" and kind == "Avg":
        fn = ctx.helper("avg_pool_same")
        ctx.assign(node, f"{fn}({x}, {pylist(size)}, {pylist(strides)})", "cf")
        return
    if a["padding"] == "same":
        padded = ctx.vars.new(f"{node.layer or node.op}_padded")
        ctx.line(f"{padded} = {ctx.helper('same_pad')}({x}, {pylist(size)}, "
                 f"{pylist(strides)}, {pylist((1,) * r)}, float('-inf'))")
        x = padded
    mod = ctx.module(node, f"nn.{kind}Pool{r}d(kernel_size={py(size)}, stride={py(strides)})",
                     {})
    ctx.assign(node, f"{mod}({x})", "cf")


@emitter("Reduce")
def emit_reduce(ctx: ModuleContext, node: Node) -> None:
    """Mean or max over axes (global pooling), in the layout the input is held when the
    channel and batch axes are kept."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    rank = ctx.rank(src)
    axes = sorted({int(x) % rank for x in a["axes"]})
    layout = ctx.layout(src)
    if layout == "cf" and (0 in axes or rank - 1 in axes):
        layout = "cl"
    dims = [(1 if ax == rank - 1 else ax + 1) if layout == "cf" else ax for ax in axes]
    fn = "torch.mean" if a["mode"] == "mean" else "torch.amax"
    keep = ", keepdim=True" if a.get("keepdims") else ""
    ctx.assign(node, f"{fn}({ctx.get(src, layout)}, dim={py(tuple(dims))}{keep})", layout)


@emitter("Arg")
def emit_arg(ctx: ModuleContext, node: Node) -> None:
    """torch.argmax / argmin (the first among equals; the last through a flip)."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    x = ctx.get(src, "cl")
    dim = int(a.get("axis", 0)) % ctx.rank(src)
    fn = "torch.argmax" if a.get("mode", "max") == "max" else "torch.argmin"
    keep = bool(a.get("keepdims", True))
    if not a.get("last"):
        ctx.assign(node, f"{fn}({x}, dim={dim}, keepdim={keep})")
        return
    flipped = ctx.vars.new(f"{ctx.base_name(node)}_flipped")
    ctx.line(f"{flipped} = {fn}(torch.flip({x}, [{dim}]), dim={dim}, keepdim={keep})")
    ctx.assign(node, f"{x}.shape[{dim}] - 1 - {flipped}")
