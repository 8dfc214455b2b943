"""MatMul, Gemm and Einsum: a constant right operand makes a Dense (one matrix product over the
last axis), the rest IR MatMul / Einsum on tensors in ONNX order."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported
from kerasport.onnx_reader.helpers import optional, out
from kerasport.onnx_reader.registry import converter


@converter("MatMul")
def matmul(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """A @ B: Dense when B is a constant matrix, else IR MatMul (rank >= 2)."""
    a, b = node.input[0], node.input[1]
    ra, rb = ctx.rank(a), ctx.rank(b)
    if ctx.is_const(b) and rb == 2 and ra is not None and ra >= 1:
        kernel = ctx.ir_const(f"{ctx.layer}/kernel", ctx.const(b))
        ctx.set(out(node), ctx.op("Dense", [ctx.ir(a), kernel], out(node)))
        return
    if ra is None or rb is None or ra < 2 or rb < 2:
        raise Unsupported("MatMul of vectors or of tensors of unknown rank")
    ctx.set(out(node), ctx.op("MatMul", [ctx.ir(a), ctx.ir(b)], out(node)))


@converter("Gemm")
def gemm(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """alpha * A' @ B' + beta * C with a constant B: a Dense (transposes and scales folded)."""
    a, b, c = node.input[0], node.input[1], optional(node, 2)
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    w = np.asarray(ctx.const(b, "B"), np.float32)
    if attrs.get("transB", 0):
        w = w.T
    x = ctx.ir(a)
    if attrs.get("transA", 0):
        x = ctx.op("Transpose", [x], f"{out(node)}/transA", {"perm": [1, 0]})
    ins = [x, ctx.ir_const(f"{ctx.layer}/kernel", alpha * w)]
    bias = None
    if c:
        bias = beta * np.asarray(ctx.const(c, "C"), np.float32)
        if bias.size == w.shape[1] and bias.ndim <= 2:
            ins.append(ctx.ir_const(f"{ctx.layer}/bias", bias.reshape(-1)))
            bias = None
    name = out(node) if bias is None else f"{out(node)}/dense"
    y = ctx.op("Dense", ins, name)
    if bias is not None:
        y = ctx.op("Add", [y, ctx.ir_const(f"{ctx.layer}/bias", bias)], out(node))
    ctx.set(out(node), y)


@converter("Einsum")
def einsum(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Einsum(equation) -> IR Einsum on tensors in ONNX order."""
    eq = str(attrs.get("equation", "")).replace(" ", "")
    if "..." in eq:
        raise Unsupported("Einsum with an ellipsis is not supported")
    ins = [ctx.ir(n) for n in node.input]
    ctx.set(out(node), ctx.op("Einsum", ins, out(node), {"equation": eq}))


@converter("CumSum")
def cum_sum(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """CumSum with a constant axis -> IR CumSum, in the order the input is held in."""
    x = node.input[0]
    rank = ctx.rank(x) or 1
    axis = int(np.asarray(ctx.const(node.input[1], "axis")).reshape(-1)[0]) % rank
    perm = ctx.perm(x)
    y = ctx.op("CumSum", [ctx.ir(x, perm)], out(node), {
        "axis": perm.index(axis), "exclusive": bool(attrs.get("exclusive", 0)),
        "reverse": bool(attrs.get("reverse", 0))})
    ctx.set(out(node), y, perm)


@converter("Trilu")
def trilu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Trilu with a constant k -> IR Trilu on the last two axes (in ONNX order)."""
    k = optional(node, 1)
    diag = int(np.asarray(ctx.const(k, "k")).reshape(-1)[0]) if k else 0
    y = ctx.op("Trilu", [ctx.ir(node.input[0])], out(node),
               {"k": diag, "upper": bool(attrs.get("upper", 1))})
    ctx.set(out(node), y)
