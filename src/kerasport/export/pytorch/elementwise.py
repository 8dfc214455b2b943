"""Merges, affine transforms and casts: computed in the layout their operands are held in,
constants rearranged to match."""

from __future__ import annotations

import numpy as np

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import TORCH_DTYPES, const_to_layout, emitter
from kerasport.ir.graph import Node

_INFIX = {"Add": " + ", "Sub": " - ", "Mul": " * ", "Div": " / "}
_FOLD = {"Max": "torch.maximum", "Min": "torch.minimum"}


@emitter("Add", "Sub", "Mul", "Div", "Max", "Min", "Mean")
def emit_merge(ctx: ModuleContext, node: Node) -> None:
    """a + b + ..., torch.maximum(...), the mean as the sum divided by the count."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.prefer(list(node.inputs))
    xs = [ctx.operand(node, name, layout, rank) for name in node.inputs]
    if node.op in _INFIX:
        expr = _INFIX[node.op].join(xs)
    elif node.op == "Mean":
        expr = f"({' + '.join(xs)}) / {float(len(xs))!r}"
    else:
        expr = xs[0]
        for x in xs[1:]:
            expr = f"{_FOLD[node.op]}({expr}, {x})"
    ctx.assign(node, expr, layout)


@emitter("Affine")
def emit_affine(ctx: ModuleContext, node: Node) -> None:
    """x * weight + bias (an inference BatchNormalization, folded by the reader into one
    multiply-add): a ``KerasAffine`` submodule holding both as parameters."""
    src = node.inputs[0]
    scale = node.inputs[1] if len(node.inputs) > 1 and node.inputs[1] else None
    shift = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    if (scale and not ctx.is_const(scale)) or (shift and not ctx.is_const(shift)):
        layout = "cl"
        x = ctx.get(src, layout)
        rank = ctx.rank(src)
        parts = [x] + ([f" * {ctx.operand(node, scale, layout, rank)}"] if scale else []) + (
            [f" + {ctx.operand(node, shift, layout, rank)}"] if shift else [])
        ctx.assign(node, "".join(parts), layout)
        return
    layout, rank = ctx.layout(src), ctx.rank(src)
    arrays = [ctx.const(n) for n in (scale, shift) if n]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    w = ctx.const(scale) if scale else np.ones(shape, np.float32)
    b = ctx.const(shift) if shift else np.zeros(shape, np.float32)
    w = const_to_layout(np.broadcast_to(w, shape).astype(np.float32), rank, layout)
    b = const_to_layout(np.broadcast_to(b, shape).astype(np.float32), rank, layout)
    ctx.helper("KerasAffine")
    mod = ctx.module(node, f"KerasAffine({tuple(int(d) for d in w.shape)!r})",
                     {"weight": w, "bias": b})
    ctx.assign(node, f"{mod}({ctx.get(src, layout)})", layout)


@emitter("Cast")
def emit_cast(ctx: ModuleContext, node: Node) -> None:
    """x.to(dtype)."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    dtype = TORCH_DTYPES[ctx.attrs(node).get("dtype", "float32")]
    ctx.assign(node, f"{ctx.get(src, layout)}.to({dtype})", layout)
