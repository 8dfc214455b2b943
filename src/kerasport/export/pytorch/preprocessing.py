"""Preprocessing layers kept in a model: discretization (torch.bucketize), category encoding
and auto-contrast as small expressions; string hashing and vocabulary lookups have no torch
form."""

from __future__ import annotations

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import TORCH_DTYPES, emitter, py, unavailable
from kerasport.ir.graph import Node

unavailable("FarmHash", "Keras' Hashing (FarmHash64 of each value's decimal text) has no "
                        "torch operation")
unavailable("Lookup", "vocabulary lookups (IntegerLookup/StringLookup tables) have no torch "
                      "layer; apply them to the data before the model")


@emitter("Bucketize")
def emit_bucketize(ctx: ModuleContext, node: Node) -> None:
    """torch.bucketize(x, boundaries, right=True): how many boundaries are <= x."""
    x, bounds = node.inputs
    b = ctx.operand(node, bounds, "cl", 1, inline=False)
    dtype = TORCH_DTYPES[ctx.attrs(node).get("dtype", "int32")]
    ctx.assign(node, f"torch.bucketize({ctx.get(x, 'cl')}, {b}, right=True).to({dtype})")


@emitter("CategoryEncode")
def emit_category_encode(ctx: ModuleContext, node: Node) -> None:
    """one_hot / multi_hot / count of integer ids; ids outside [0, depth) count nowhere."""
    a = ctx.attrs(node)
    depth, mode = int(a["depth"]), a.get("mode", "one_hot")
    x = ctx.get(node.inputs[0], "cl")
    ids, hot = ctx.vars.new(f"{node.layer}_ids"), ctx.vars.new(f"{node.layer}_hot")
    ctx.line(f"{ids} = {x}.long()")
    ctx.line(f"{hot} = F.one_hot({ids}.clamp(0, {depth - 1}), {depth}) * "
             f"(({ids} >= 0) & ({ids} < {depth})).unsqueeze(-1)")
    expr = hot if mode == "one_hot" else (
        f"{hot}.sum(dim=-2)" if mode == "count" else f"{hot}.amax(dim=-2)")
    ctx.assign(node, f"{expr}.to({TORCH_DTYPES[a.get('dtype', 'float32')]})")


@emitter("AutoContrast")
def emit_auto_contrast(ctx: ModuleContext, node: Node) -> None:
    """Each image's channels stretched to span the value range (constant ones unchanged)."""
    lo, hi = (float(v) for v in ctx.attrs(node)["value_range"])
    src = node.inputs[0]
    layout = ctx.layout(src)
    x = ctx.get(src, layout)
    dims = "(2, 3)" if layout == "cf" else "(1, 2)"
    scaled = (lo, hi) != (0.0, 255.0)
    y = ctx.vars.new(f"{node.layer}_y")
    ctx.line(f"{y} = ({x} - {py(lo)}) / {py(hi - lo)} * 255.0" if scaled else f"{y} = {x}")
    low, scale = ctx.vars.new(f"{node.layer}_low"), ctx.vars.new(f"{node.layer}_scale")
    ctx.line(f"{low} = torch.amin({y}, dim={dims}, keepdim=True)")
    ctx.line(f"{scale} = 255.0 / (torch.amax({y}, dim={dims}, keepdim=True) - {low})")
    ctx.line(f"{y} = torch.clamp({y} * {scale} + -{low} * {scale}, 0.0, 255.0)")
    if scaled:
        ctx.line(f"{y} = {y} / 255.0 * {py(hi - lo)} + {py(lo)}")
    ctx.assign(node, f"torch.where(torch.isnan({y}), {x}, {y})", layout)
