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


_MATH = {"sqrt": "torch.sqrt", "log": "torch.log", "neg": "torch.neg", "abs": "torch.abs",
         "reciprocal": "torch.reciprocal", "floor": "torch.floor", "ceil": "torch.ceil",
         "erf": "torch.erf", "sin": "torch.sin", "cos": "torch.cos", "sign": "torch.sign",
         "round": "torch.round"}
_COMPARE = {"equal": "torch.eq", "less": "torch.lt", "less_equal": "torch.le",
            "greater": "torch.gt", "greater_equal": "torch.ge"}


def _operands(ctx: ModuleContext, node: Node, names: list[str]) -> tuple[list[str], str]:
    rank = ctx.rank(node.outputs[0])
    layout = ctx.prefer(names)
    return [ctx.operand(node, n, layout, rank, inline=False) for n in names], layout


@emitter("Math")
def emit_math(ctx: ModuleContext, node: Node) -> None:
    """torch.sqrt, torch.log, torch.round (halves to even, as NumPy) ..."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    fn = _MATH[ctx.attrs(node).get("fn", "sqrt")]
    ctx.assign(node, f"{fn}({ctx.get(src, layout)})", layout)


@emitter("Pow")
def emit_pow(ctx: ModuleContext, node: Node) -> None:
    """torch.pow(a, b), b in a's dtype."""
    (a, b), layout = _operands(ctx, node, list(node.inputs[:2]))
    ctx.assign(node, f"torch.pow({a}, {b}.to({a}.dtype))", layout)


@emitter("Mod")
def emit_mod(ctx: ModuleContext, node: Node) -> None:
    """torch.remainder (b's sign, Python's %) or torch.fmod (a's sign)."""
    (a, b), layout = _operands(ctx, node, list(node.inputs[:2]))
    fn = "torch.fmod" if ctx.attrs(node).get("fmod") else "torch.remainder"
    ctx.assign(node, f"{fn}({a}, {b}).to({a}.dtype)", layout)


@emitter("Where")
def emit_where(ctx: ModuleContext, node: Node) -> None:
    """torch.where(cond, a, b) in a's dtype."""
    (a, b, cond), layout = _operands(ctx, node, list(node.inputs[:3]))
    dtype = TORCH_DTYPES.get(ctx.dtype(node.inputs[0]), "torch.float32")
    ctx.assign(node, f"torch.where({cond}, {a}, {b}).to({dtype})", layout)


@emitter("Compare")
def emit_compare(ctx: ModuleContext, node: Node) -> None:
    """torch.eq / lt / le / gt / ge, as booleans (or the asked dtype)."""
    a = ctx.attrs(node)
    (x, y), layout = _operands(ctx, node, list(node.inputs[:2]))
    expr = f"{_COMPARE[a.get('mode', 'equal')]}({x}, {y})"
    if a.get("dtype", "bool") != "bool":
        expr += f".to({TORCH_DTYPES[a['dtype']]})"
    ctx.assign(node, expr, layout)


@emitter("Logic")
def emit_logic(ctx: ModuleContext, node: Node) -> None:
    """torch.logical_not / and / or / xor."""
    mode = ctx.attrs(node).get("mode", "not")
    names = [n for n in node.inputs[:2] if n]
    xs, layout = _operands(ctx, node, names)
    ctx.assign(node, f"torch.logical_{mode}({', '.join(xs)})", layout)
