"""Normalizations: nn.LayerNorm over the last axis, nn.GroupNorm (channels-first), and small
expressions for several axes, RMS scaling, L2 and RMS normalization."""

from __future__ import annotations

import numpy as np

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import axis_in, emitter, py
from kerasport.ir.graph import Node


def _inputs(node: Node, n: int) -> list[str | None]:
    names = [name or None for name in node.inputs[1:]]
    return (names + [None] * n)[:n]


@emitter("LayerNorm")
def emit_layer_norm(ctx: ModuleContext, node: Node) -> None:
    """nn.LayerNorm(C, eps) for the last axis with stored gamma/beta; otherwise
    (x - mean) * rsqrt(var + eps) * gamma + beta over the axes (rms_scaling: x * rsqrt(var +
    eps) * gamma, as Keras)."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    rank = ctx.rank(src)
    axes = sorted({int(x) % rank for x in a["axes"]})
    gamma, beta = _inputs(node, 2)
    consts = all(n is None or ctx.is_const(n) for n in (gamma, beta))
    eps = py(float(a["epsilon"]))
    x = ctx.get(src, "cl")
    if axes == [rank - 1] and not a.get("rms_scaling") and consts:
        c = ctx.shape(src)[-1]
        w = ctx.const(gamma).reshape(c) if gamma else np.ones(c, np.float32)
        b = ctx.const(beta).reshape(c) if beta else np.zeros(c, np.float32)
        mod = ctx.module(node, f"nn.LayerNorm({c}, eps={eps})",
                         {"weight": w.astype(np.float32), "bias": b.astype(np.float32)})
        ctx.assign(node, f"{mod}({x})")
        return
    dims = py(tuple(axes))
    var, mean = ctx.vars.new(f"{node.layer}_var"), ctx.vars.new(f"{node.layer}_mean")
    ctx.line(f"{var}, {mean} = torch.var_mean({x}, dim={dims}, unbiased=False, keepdim=True)")
    inv = f"torch.rsqrt({var} + {eps})"
    expr = f"{x} * {inv}" if a.get("rms_scaling") else f"({x} - {mean}) * {inv}"
    if gamma:
        expr += f" * {ctx.operand(node, gamma, 'cl', rank, inline=False)}"
    if beta and not a.get("rms_scaling"):
        expr += f" + {ctx.operand(node, beta, 'cl', rank, inline=False)}"
    ctx.assign(node, expr)


@emitter("GroupNorm")
def emit_group_norm(ctx: ModuleContext, node: Node) -> None:
    """nn.GroupNorm(groups, C, eps) on the channels-first input (consecutive channels per
    group, as Keras)."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    gamma, beta = _inputs(node, 2)
    c = ctx.shape(src)[-1]
    w = ctx.const(gamma).reshape(c) if gamma else np.ones(c, np.float32)
    b = ctx.const(beta).reshape(c) if beta else np.zeros(c, np.float32)
    layout = "cf" if ctx.rank(src) >= 3 else "cl"
    mod = ctx.module(node, f"nn.GroupNorm({int(a['groups'])}, {c}, eps={py(float(a['epsilon']))})",
                     {"weight": w.astype(np.float32), "bias": b.astype(np.float32)})
    ctx.assign(node, f"{mod}({ctx.get(src, layout)})", layout)


@emitter("L2Normalize")
def emit_l2_normalize(ctx: ModuleContext, node: Node) -> None:
    """x / max(sqrt(sum(x^2)), eps) over the axes, in the layout x is held."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    layout, rank = ctx.layout(src), ctx.rank(src)
    dims = py(tuple(axis_in(ax, rank, layout) for ax in a["axes"]))
    x = ctx.get(src, layout)
    norm = f"torch.sqrt(torch.sum({x} * {x}, dim={dims}, keepdim=True))"
    ctx.assign(node, f"{x} / torch.clamp({norm}, min={py(float(a['epsilon']))})", layout)


@emitter("RmsNorm")
def emit_rms_norm(ctx: ModuleContext, node: Node) -> None:
    """x * rsqrt(mean(x^2) + eps) * scale over the axes."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    rank = ctx.rank(src)
    x = ctx.get(src, "cl")
    dims = py(tuple(int(ax) % rank for ax in a["axes"]))
    rms = ctx.vars.new(f"{ctx.base_name(node)}_rms")
    ctx.line(f"{rms} = torch.sqrt(torch.mean({x} * {x}, dim={dims}, keepdim=True) + "
             f"{py(float(a['epsilon']))})")
    expr = f"{x} / {rms}"
    scale = _inputs(node, 1)[0]
    if scale:
        expr += f" * {ctx.operand(node, scale, 'cl', rank, inline=False)}"
    ctx.assign(node, expr)
