"""Keras masks as 0/1 float tensors (N, T): comparisons, products and masked means."""

from __future__ import annotations

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import TORCH_DTYPES, emitter, py
from kerasport.ir.graph import Node


@emitter("MaskNotEqual")
def emit_mask_not_equal(ctx: ModuleContext, node: Node) -> None:
    """(x != value), any along ``axis``, as the mask dtype."""
    a = ctx.attrs(node)
    expr = f"({ctx.get(node.inputs[0], 'cl')} != {py(a.get('value', 0.0))})"
    if a.get("axis") is not None:
        expr = f"{expr}.any(dim={int(a['axis']) % ctx.rank(node.inputs[0])})"
    ctx.assign(node, f"{expr}.to({TORCH_DTYPES[a.get('dtype', 'float32')]})")


@emitter("ApplyMask")
def emit_apply_mask(ctx: ModuleContext, node: Node) -> None:
    """x * mask[..., None]."""
    x, m = (ctx.get(n, "cl") for n in node.inputs)
    ctx.assign(node, f"{x} * {m}.unsqueeze(-1).to({x}.dtype)")


@emitter("MaskedMean")
def emit_masked_mean(ctx: ModuleContext, node: Node) -> None:
    """Mean over axis 1 of the unmasked timesteps."""
    x, m = (ctx.get(n, "cl") for n in node.inputs)
    keep = ", keepdim=True" if ctx.attrs(node).get("keepdims") else ""
    w = ctx.vars.new(f"{node.layer}_weights")
    ctx.line(f"{w} = {m}.unsqueeze(-1).to({x}.dtype)")
    ctx.assign(node, f"torch.sum({x} * {w}, dim=1{keep}) / torch.sum({w}, dim=1{keep})")


@emitter("MaskReduce")
def emit_mask_reduce(ctx: ModuleContext, node: Node) -> None:
    """any / all of x != 0 along ``axis`` (all axes if None), as float32."""
    a = ctx.attrs(node)
    fn = "any" if a.get("mode", "any") == "any" else "all"
    x = ctx.get(node.inputs[0], "cl")
    if a.get("axis") is None:
        expr = f"({x} != 0).{fn}()"
        if a.get("keepdims"):
            expr = f"{expr}.reshape([1] * {x}.dim())"
    else:
        keep = ", keepdim=True" if a.get("keepdims") else ""
        expr = f"({x} != 0).{fn}(dim={int(a['axis']) % ctx.rank(node.inputs[0])}{keep})"
    ctx.assign(node, f"{expr}.to(torch.float32)")


@emitter("MaskLogical")
def emit_mask_logical(ctx: ModuleContext, node: Node) -> None:
    """and / or / not of 0/1 tensors, as float32."""
    mode = ctx.attrs(node).get("mode", "and")
    a = ctx.get(node.inputs[0], "cl")
    if mode == "not":
        expr = f"({a} == 0)"
    else:
        b = ctx.get(node.inputs[1], "cl")
        expr = f"torch.logical_{mode}({a} != 0, {b} != 0)"
    ctx.assign(node, f"{expr}.to(torch.float32)")


@emitter("Fill")
def emit_fill(ctx: ModuleContext, node: Node) -> None:
    """torch.full_like(x, value, dtype=...)."""
    a = ctx.attrs(node)
    src = node.inputs[0]
    layout = ctx.layout(src)
    dtype = TORCH_DTYPES[a.get("dtype", "float32")]
    ctx.assign(node, f"torch.full_like({ctx.get(src, layout)}, {py(a.get('value', 0.0))}, "
                     f"dtype={dtype})", layout)
