"""Dense as nn.Linear; batched products as torch.matmul; Einsum as torch.einsum."""

from __future__ import annotations

import numpy as np

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import emitter
from kerasport.ir.graph import Node


@emitter("Dense")
def emit_dense(ctx: ModuleContext, node: Node) -> None:
    """nn.Linear(in, out) over the last axis (weight = Keras kernel transposed)."""
    x, kernel = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    if not ctx.is_const(kernel) or (bias and not ctx.is_const(bias)):
        w = ctx.operand(node, kernel, "cl", 2, inline=False)
        expr = f"torch.matmul({ctx.get(x, 'cl')}, {w})"
        if bias:
            expr += f" + {ctx.operand(node, bias, 'cl', 1)}"
        ctx.assign(node, expr)
        return
    k = ctx.const(kernel).astype(np.float32)
    weights = {"weight": np.ascontiguousarray(k.T)}
    args = f"{k.shape[0]}, {k.shape[1]}"
    if bias:
        weights["bias"] = ctx.const(bias).astype(np.float32)
    else:
        args += ", bias=False"
    mod = ctx.module(node, f"nn.Linear({args})", weights)
    ctx.assign(node, f"{mod}({ctx.get(x, 'cl')})")


@emitter("MatMul")
def emit_matmul(ctx: ModuleContext, node: Node) -> None:
    """torch.matmul(a, b), b transposed on its last two axes when asked."""
    rank = ctx.rank(node.outputs[0])
    a, b = (ctx.operand(node, n, "cl", rank, inline=False) for n in node.inputs[:2])
    if ctx.attrs(node).get("transpose_b"):
        b = f"{b}.transpose(-1, -2)"
    ctx.assign(node, f"torch.matmul({a}, {b})")


@emitter("Einsum")
def emit_einsum(ctx: ModuleContext, node: Node) -> None:
    """torch.einsum with the IR's equation (EinsumDense, Dot, attention products)."""
    rank = ctx.rank(node.outputs[0])
    xs = [ctx.operand(node, n, "cl", rank, inline=False) for n in node.inputs]
    eq = ctx.attrs(node)["equation"]
    ctx.assign(node, f"torch.einsum({eq!r}, {', '.join(xs)})")


@emitter("CumSum")
def emit_cum_sum(ctx: ModuleContext, node: Node) -> None:
    """torch.cumsum along the axis (flipped for ``reverse``, minus x for ``exclusive``)."""
    a = ctx.attrs(node)
    x = ctx.get(node.inputs[0], "cl")
    dim = int(a.get("axis", 0)) % ctx.rank(node.inputs[0])
    src = f"torch.flip({x}, [{dim}])" if a.get("reverse") else x
    expr = f"torch.cumsum({src}, dim={dim})"
    if a.get("exclusive"):
        expr = f"{expr} - {src}"
    if a.get("reverse"):
        expr = f"torch.flip({expr}, [{dim}])"
    ctx.assign(node, expr)


@emitter("Trilu")
def emit_trilu(ctx: ModuleContext, node: Node) -> None:
    """torch.triu / torch.tril of the last two axes from diagonal k."""
    a = ctx.attrs(node)
    fn = "torch.triu" if a.get("upper", True) else "torch.tril"
    ctx.assign(node, f"{fn}({ctx.get(node.inputs[0], 'cl')}, {int(a.get('k', 0))})")
