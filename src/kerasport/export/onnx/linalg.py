"""ONNX emitters for the linear-algebra ops: Dense (Gemm, or MatMul + Add), MatMul and Einsum.

MatMul and Einsum take every input in the Keras (channels-last) layout and record their
outputs channels-last; a swapped second operand is folded into the Transpose that made it when
this MatMul is its only reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, ExportContext, emitter, to_cl
from kerasport.ir.graph import Node


@emitter("Dense")
def dense(ctx: ExportContext, node: Node) -> None:
    """MatMul (+ Add bias) over the last axis."""
    w = ctx.get(node.inputs[1], CL)
    if ctx.rank(node.inputs[0]) == 2 and len(node.inputs) > 2:
        y = ctx.add("Gemm", [ctx.get(node.inputs[0], CL), w, ctx.get(node.inputs[2], CL)],
                    node.outputs[0])
        ctx.set(node.outputs[0], y, CL)
        return
    y = ctx.add("MatMul", [ctx.get(node.inputs[0], CL), w],
                node.outputs[0] if len(node.inputs) == 2 else f"{node.outputs[0]}/matmul")
    if len(node.inputs) > 2:
        y = ctx.add("Add", [y, ctx.get(node.inputs[2], CL)], node.outputs[0])
    ctx.set(node.outputs[0], y, CL)


# -- MatMul, Einsum ---------------------------------------------------------------------------
def _only_use_of_transpose(ctx: ExportContext, value: str) -> Any | None:
    """The ONNX Transpose node that made ``value`` (channels-last) when this MatMul is the
    value's only reader, so that the swap can be folded into its permutation."""
    reads = sum(n.inputs.count(value) for n in ctx.graph.nodes)  # q @ q^T reads it twice
    name = ctx.held.name(value, CL)
    if value in ctx.graph.outputs or reads != 1 or name is None:
        return None
    if ctx.held.holders(name) > 1 or any(name in n.input for n in ctx.nodes):
        return None  # the tensor also stands for another value or layout, or is already read
    made = [n for n in ctx.nodes if name in n.output]
    return made[0] if made and made[0].op_type == "Transpose" else None


def _swap_last(ctx: ExportContext, value: str, base: str) -> str:
    """``value`` with its last two axes swapped (a transposed constant for weights; folded
    into the Transpose that made it, e.g. MultiHeadAttention's key heads)."""
    swapped = ctx.held.swapped_last
    if value not in swapped:
        rank = ctx.rank(value)
        perm = [*range(rank - 2), rank - 1, rank - 2]
        producer = None if ctx.is_const(value) else _only_use_of_transpose(ctx, value)
        if ctx.is_const(value):
            arr = np.swapaxes(ctx.graph.constants[value], -1, -2)
            swapped[value] = ctx.const(np.ascontiguousarray(arr), f"{value}__t")
        elif producer is not None:
            attr = next(at for at in producer.attribute if at.name == "perm")
            attr.ints[:] = [attr.ints[p] for p in perm]
            swapped[value] = ctx.held.release(value, CL)  # no longer ``value`` as it was
        elif not ctx.held.holds(value, CL) and CF in ctx.layouts(value) and rank >= 3:
            back = to_cl(rank)  # held channels-first only: one Transpose straight from there
            swapped[value] = ctx.add("Transpose", [ctx.held.name(value, CF)], f"{base}/b_t",
                                     perm=[back[p] for p in perm])
        else:
            swapped[value] = ctx.add("Transpose", [ctx.get(value, CL)], f"{base}/b_t",
                                     perm=perm)
    return swapped[value]


@emitter("MatMul")
def matmul(ctx: ExportContext, node: Node) -> None:
    """a @ b (leading axes broadcast), a @ swap(b) with ``transpose_b``."""
    a, b = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    rhs = _swap_last(ctx, b, out) if node.attrs.get("transpose_b") else ctx.get(b, CL)
    ctx.set(out, ctx.add("MatMul", [ctx.get(a, CL), rhs], out), CL)


@emitter("Einsum")
def einsum(ctx: ExportContext, node: Node) -> None:
    """ONNX Einsum with the IR's equation (ellipsis included; ONNX Runtime runs every form the
    converters write: EinsumDense, Dot, the score reductions of Attention, MHA's general
    attention axes)."""
    equation = str(node.attrs.get("equation", "")).replace(" ", "")
    out = node.outputs[0]
    plan = _as_matmul(ctx, node, equation)
    if plan is not None:  # ONNX Runtime's Einsum is much slower than its MatMul
        kept, contracted, free_w = plan
        w = ctx.graph.constants[node.inputs[1]]
        x = ctx.get(node.inputs[0], CL)
        if ctx.rank(node.inputs[0]) != kept + 1:  # several contracted axes: flatten them
            x = ctx.add("Reshape", [x, ctx.ints([0] * kept + [contracted], f"{out}/rows")],
                        f"{out}/x2")
        flat = ctx.const(np.ascontiguousarray(w.reshape(contracted, -1)), f"{out}/w2")
        y = ctx.add("MatMul", [x, flat], f"{out}/mm")
        if len(free_w) != 1:
            y = ctx.add("Reshape", [y, ctx.ints([0] * kept + list(free_w), f"{out}/shape")],
                        out)
    else:
        y = ctx.add("Einsum", [ctx.get(v, CL) for v in node.inputs], out, equation=equation)
    ctx.set(out, y, CL)


def _as_matmul(ctx: ExportContext, node: Node,
               equation: str) -> tuple[int, int, tuple[int, ...]] | None:
    """For ``x, w -> y`` with a constant ``w`` whose leading letters are x's trailing ones
    (contracted) and y = x's other letters then w's others, in order (EinsumDense's usual
    forms): (x's kept axes, contracted size, w's free dims); else None."""
    if len(node.inputs) != 2 or not ctx.is_const(node.inputs[1]) or "..." in equation:
        return None
    ins, y = equation.split("->")
    parts = ins.split(",")
    if len(parts) != 2:
        return None
    xs, ws = parts
    w = ctx.graph.constants[node.inputs[1]]
    if len(set(xs)) != len(xs) or len(set(ws)) != len(ws):
        return None  # a diagonal
    k = len(set(xs) & set(ws))
    if k < 1 or ws[:k] != xs[len(xs) - k:] or y != xs[:len(xs) - k] + ws[k:]:
        return None
    return len(xs) - k, int(np.prod(w.shape[:k])), tuple(int(d) for d in w.shape[k:])


@emitter("CumSum")
def cum_sum(ctx: ExportContext, node: Node) -> None:
    """CumSum(x, axis) with exclusive and reverse, channels-last."""
    a = node.attrs
    axis = ctx.const(np.asarray(int(a.get("axis", 0)), np.int64), "axis")
    y = ctx.add("CumSum", [ctx.get(node.inputs[0], CL), axis], node.outputs[0],
                exclusive=int(bool(a.get("exclusive"))), reverse=int(bool(a.get("reverse"))))
    ctx.set(node.outputs[0], y, CL)


@emitter("Trilu")
def trilu(ctx: ExportContext, node: Node) -> None:
    """Trilu (opset 14) with k as an input."""
    if ctx.opset < 14:
        raise KerasportError("Trilu needs opset 14 or newer (--opset 14)")
    k = ctx.const(np.asarray(int(node.attrs.get("k", 0)), np.int64), "k")
    y = ctx.add("Trilu", [ctx.get(node.inputs[0], CL), k], node.outputs[0],
                upper=int(bool(node.attrs.get("upper", True))))
    ctx.set(node.outputs[0], y, CL)
