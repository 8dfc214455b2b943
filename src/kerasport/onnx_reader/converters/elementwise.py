"""Elementwise math, comparisons, logic, casts and pass-throughs. Operands are aligned to one
axis order; shape vectors (from Shape) are computed on here, so that shape arithmetic folds."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from kerasport.onnx_reader.context import BATCH, UNKNOWN, ReadContext, Unsupported
from kerasport.onnx_reader.converters.activations import unary
from kerasport.onnx_reader.files import DTYPES, onnx_module
from kerasport.onnx_reader.helpers import aligned, inputs, out
from kerasport.onnx_reader.registry import converter

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow",
           "Max": "Max", "Min": "Min", "Mean": "Mean", "Sum": "Add"}
_MATH = {"Sqrt": "sqrt", "Log": "log", "Neg": "neg", "Abs": "abs", "Reciprocal": "reciprocal",
         "Floor": "floor", "Ceil": "ceil", "Erf": "erf", "Sin": "sin", "Cos": "cos",
         "Sign": "sign", "Round": "round"}
_COMPARE = {"Equal": "equal", "Less": "less", "LessOrEqual": "less_equal",
            "Greater": "greater", "GreaterOrEqual": "greater_equal"}
_LOGIC = {"Not": "not", "And": "and", "Or": "or", "Xor": "xor"}
_SYM_OPS = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul,
            "Div": operator.floordiv}


def broadcasting(ctx: ReadContext, node: Any, op: str, names: list[str],
                 attrs: dict[str, Any] | None = None) -> None:
    """IR ``op`` on the aligned operands ``names``."""
    values, perm = aligned(ctx, names)
    ctx.set(out(node), ctx.op(op, values, out(node), attrs), perm or None)


def _sym_arith(ctx: ReadContext, node: Any) -> bool:
    """Shape arithmetic on shape vectors: known elements computed, free ones stay free."""
    if node.op_type not in _SYM_OPS or len(node.input) != 2:
        return False
    a, b = node.input[0], node.input[1]
    ta, tb = ctx.tensor(a), ctx.tensor(b)
    if ta.sym is None and tb.sym is None:
        return False
    if not all(t.sym is not None or t.const is not None for t in (ta, tb)):
        raise Unsupported("shape arithmetic mixed with data")
    va = ctx.shape_vector(a, "operand") if ta.sym is not None or ta.const.ndim else (
        int(ta.const),)
    vb = ctx.shape_vector(b, "operand") if tb.sym is not None or tb.const.ndim else (
        int(tb.const),)
    n = max(len(va), len(vb))
    va, vb = (va * n if len(va) == 1 else va), (vb * n if len(vb) == 1 else vb)
    fn = _SYM_OPS[node.op_type]
    result = []
    for x, y in zip(va, vb):
        if isinstance(x, int) and isinstance(y, int):
            result.append(int(fn(x, y)))
        elif x == BATCH and y == 1 and node.op_type in ("Mul", "Div"):
            result.append(BATCH)
        elif y == BATCH and x == 1 and node.op_type == "Mul":
            result.append(BATCH)
        else:
            result.append(UNKNOWN)
    scalar = bool(ta.scalar if ta.sym is not None else ta.const.ndim == 0) and bool(
        tb.scalar if tb.sym is not None else tb.const.ndim == 0)
    ctx.set_sym(out(node), tuple(result), scalar=scalar)
    return True


@converter(*_BINARY)
def binary(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Broadcasting arithmetic (integer Div only on shapes)."""
    if _sym_arith(ctx, node):
        return
    names = inputs(node)
    if node.op_type == "Div" and np.dtype(ctx.dtype(names[0])).kind in "iu":
        # ONNX's integer Div truncates towards zero, as a cast of the quotient does
        values, perm = aligned(ctx, names)
        q = ctx.op("Div", values, f"{out(node)}/quotient")
        ctx.set(out(node), ctx.op("Cast", [q], out(node), {"dtype": ctx.dtype(names[0])}),
                perm or None)
        return
    if node.op_type == "Pow" and ctx.is_const(names[1]):
        exponent = np.asarray(ctx.const(names[1]))
        if exponent.size == 1 and float(exponent) == 2.0:
            broadcasting(ctx, node, "Mul", [names[0], names[0]])
            return
    if len(names) == 1:
        ctx.tensors[out(node)] = ctx.tensor(names[0])
        return
    broadcasting(ctx, node, _BINARY[node.op_type], names)


@converter(*_MATH)
def math(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """One-input math functions -> IR Math(fn)."""
    unary(ctx, node, "Math", {"fn": _MATH[node.op_type]})


@converter(*_COMPARE)
def compare(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Comparisons -> IR Compare(mode), boolean."""
    broadcasting(ctx, node, "Compare", inputs(node), {"mode": _COMPARE[node.op_type]})


@converter(*_LOGIC)
def logic(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Not / And / Or / Xor -> IR Logic(mode)."""
    broadcasting(ctx, node, "Logic", inputs(node), {"mode": _LOGIC[node.op_type]})


@converter("Where")
def where(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Where(cond, a, b) -> IR Where(a, b, cond)."""
    cond, a, b = node.input
    broadcasting(ctx, node, "Where", [a, b, cond])


@converter("Cast", "CastLike")
def cast(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Cast(to) -> IR Cast(dtype); a shape vector stays one when cast to an integer."""
    if node.op_type == "CastLike":
        dtype = np.dtype(ctx.dtype(node.input[1]))
    else:
        dtype = np.dtype(onnx_module().helper.tensor_dtype_to_np_dtype(int(attrs["to"])))
    x = node.input[0]
    t = ctx.tensor(x)
    if t.sym is not None and dtype.kind in "iu":
        ctx.tensors[out(node)] = t
        return
    if str(dtype) not in DTYPES:
        raise Unsupported(f"cast to {dtype} (bool, ints, float32 and float64 are supported)")
    unary(ctx, node, "Cast", {"dtype": str(dtype)})


@converter("Identity", "Dropout")
def identity_op(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Identity, and Dropout at inference: the input itself."""
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("Dropout's mask output is not supported")
    training = node.input[2] if len(node.input) > 2 else ""
    if training and (not ctx.is_const(training) or bool(np.asarray(ctx.const(training)))):
        raise Unsupported("Dropout in training mode (random) is not supported")
    ctx.tensors[out(node)] = ctx.tensor(node.input[0])


@converter("Mod")
def mod(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Mod(fmod) -> IR Mod."""
    broadcasting(ctx, node, "Mod", inputs(node), {"fmod": bool(attrs.get("fmod", 0))})
