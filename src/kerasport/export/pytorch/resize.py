"""Resizing, channels-first: F.interpolate with TensorFlow's half-pixel rules ('nearest-exact'
is TensorFlow's nearest, 'bilinear' without corner alignment its bilinear) and
repeat_interleave for integer upsampling."""

from __future__ import annotations

from kerasport.errors import KerasportError
from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import emitter, py
from kerasport.ir.graph import Node

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@emitter("Resize")
def emit_resize(ctx: ModuleContext, node: Node) -> None:
    """F.interpolate(x, size=..., mode=...)."""
    a = ctx.attrs(node)
    size = tuple(int(s) for s in a["size"])
    src = node.inputs[0]
    if ctx.rank(src) != len(size) + 2:
        raise KerasportError(f"layer '{node.layer}': resizing {len(size)} axes of a rank-"
                             f"{ctx.rank(src)} tensor has no F.interpolate form")
    if a["method"] == "nearest":
        mode = "'nearest-exact'"
    else:
        mode = f"'{_LINEAR[len(size)]}', align_corners=False"
    x = ctx.get(src, "cf")
    ctx.assign(node, f"F.interpolate({x}, size={py(size)}, mode={mode})", "cf")


@emitter("Repeat")
def emit_repeat(ctx: ModuleContext, node: Node) -> None:
    """x.repeat_interleave(r, dim) per upsampled axis (UpSampling1D/2D/3D)."""
    src = node.inputs[0]
    layout = "cf" if ctx.rank(src) >= 3 else "cl"
    expr = ctx.get(src, layout)
    rank = ctx.rank(src)
    for i, r in enumerate(ctx.attrs(node)["repeats"]):
        if int(r) != 1:
            axis = 1 + i
            dim = (axis + 1 if axis < rank - 1 else 1) if layout == "cf" else axis
            expr = f"{expr}.repeat_interleave({int(r)}, dim={dim})"
    ctx.assign(node, expr, layout)
