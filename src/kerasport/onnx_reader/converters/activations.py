"""Activations: one IR op each, applied in whatever axis order the input is held in."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported
from kerasport.onnx_reader.helpers import aligned, axis_of, optional, out
from kerasport.onnx_reader.registry import converter
from kerasport.ops.activations import SELU_ALPHA, SELU_SCALE

_PLAIN = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "Softplus",
          "Softsign": "Softsign", "Mish": "Mish", "HardSwish": "HardSilu", "Exp": "Exp"}
_SELU_ALPHA, _SELU_GAMMA = SELU_ALPHA, SELU_SCALE  # ONNX's defaults are Keras' constants


def unary(ctx: ReadContext, node: Any, op: str, attrs: dict[str, Any] | None = None) -> None:
    """``op`` on input 0 in its current axis order."""
    x = node.input[0]
    perm = ctx.perm(x)
    ctx.set(out(node), ctx.op(op, [ctx.ir(x, perm)], out(node), attrs), perm)


@converter(*_PLAIN)
def plain(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Activations without attributes."""
    unary(ctx, node, _PLAIN[node.op_type])


@converter("LeakyRelu")
def leaky_relu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """LeakyRelu(alpha=0.01)."""
    unary(ctx, node, "LeakyRelu", {"alpha": float(attrs.get("alpha", 0.01))})


@converter("Elu", "Celu")
def elu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Elu / Celu (alpha=1)."""
    unary(ctx, node, node.op_type, {"alpha": float(attrs.get("alpha", 1.0))})


@converter("Selu")
def selu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Selu with the standard constants only."""
    alpha = float(attrs.get("alpha", _SELU_ALPHA))
    gamma = float(attrs.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) > 1e-6 or abs(gamma - _SELU_GAMMA) > 1e-6:
        raise Unsupported(f"Selu with alpha={alpha}, gamma={gamma} (only the standard ones)")
    unary(ctx, node, "Selu")


@converter("HardSigmoid")
def hard_sigmoid(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """HardSigmoid(alpha=0.2, beta=0.5) = clip(alpha x + beta, 0, 1)."""
    unary(ctx, node, "HardSigmoid", {"slope": float(attrs.get("alpha", 0.2)),
                                     "offset": float(attrs.get("beta", 0.5))})


@converter("Gelu")
def gelu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Gelu (approximate 'none' or 'tanh')."""
    unary(ctx, node, "Gelu", {"approximate": attrs.get("approximate", "none") == "tanh"})


@converter("Softmax", "LogSoftmax")
def softmax(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Softmax over one axis (opsets < 13: only when that axis is the last)."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axis = int(attrs.get("axis", -1 if ctx.opset >= 13 else 1)) % rank
    if ctx.opset < 13 and axis != rank - 1:
        raise Unsupported(f"opset {ctx.opset} {node.op_type} over the flattened axes "
                          f"{axis}.. of a rank-{rank} input (re-export with opset >= 13)")
    unary(ctx, node, node.op_type, {"axis": axis_of(ctx, x, axis)})


@converter("PRelu")
def prelu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """PRelu with a constant slope (broadcast as ONNX does)."""
    ctx.const(node.input[1], "the slope")
    (x, slope), perm = aligned(ctx, [node.input[0], node.input[1]])
    ctx.set(out(node), ctx.op("PRelu", [x, slope], out(node)), perm or None)


@converter("Clip")
def clip(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Clip(min, max): Relu(max_value) when min is 0, else Max/Min with the bounds."""
    lo_name, hi_name = optional(node, 1), optional(node, 2)
    lo = attrs.get("min") if not lo_name else float(ctx.const(lo_name, "min"))
    hi = attrs.get("max") if not hi_name else float(ctx.const(hi_name, "max"))
    x = node.input[0]
    if lo is None and hi is None:
        ctx.tensors[out(node)] = ctx.tensor(x)
        return
    perm = ctx.perm(x)
    y = ctx.ir(x, perm)
    dtype = np.dtype(ctx.dtype(x))
    if lo == 0.0 and dtype.kind == "f":
        attrs_ir = {"max_value": None if hi is None else float(hi)}
        ctx.set(out(node), ctx.op("Relu", [y], out(node), attrs_ir), perm)
        return
    if lo is not None:
        bound = ctx.ir_const(f"{ctx.layer}/min", np.asarray(lo, dtype))
        y = ctx.op("Max", [y, bound], out(node) if hi is None else f"{out(node)}/min")
    if hi is not None:
        bound = ctx.ir_const(f"{ctx.layer}/max", np.asarray(hi, dtype))
        y = ctx.op("Min", [y, bound], out(node))
    ctx.set(out(node), y, perm)


@converter("Swish")
def swish(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Swish (x * sigmoid(alpha x)) with alpha 1: Silu."""
    if float(attrs.get("alpha", 1.0)) != 1.0:
        raise Unsupported(f"Swish with alpha={attrs['alpha']} (only 1)")
    unary(ctx, node, "Silu")


@converter("ThresholdedRelu")
def thresholded_relu(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """x where x > alpha, else 0: IR Threshold."""
    unary(ctx, node, "Threshold", {"threshold": float(attrs.get("alpha", 1.0)),
                                   "default_value": 0.0})


@converter("Shrink")
def shrink(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Shrink with bias 0 (IR HardShrink) or bias = lambd (IR SoftShrink)."""
    bias, lambd = float(attrs.get("bias", 0.0)), float(attrs.get("lambd", 0.5))
    if np.dtype(ctx.dtype(node.input[0])).kind != "f":
        raise Unsupported(f"Shrink of {ctx.dtype(node.input[0])} values")
    if bias == 0.0:
        unary(ctx, node, "HardShrink", {"threshold": lambd})
    elif bias == lambd:
        unary(ctx, node, "SoftShrink", {"threshold": lambd})
    else:
        raise Unsupported(f"Shrink with bias {bias} and lambd {lambd} (bias 0 or lambd only)")
