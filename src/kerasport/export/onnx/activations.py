"""ONNX forms of the activation ops as compositions of standard ONNX ops that follow the
runtime's kernels: the emitters of Keras 3's newer activations (celu, hard_tanh, log_sigmoid,
sparse_plus, sparse_sigmoid, squareplus, tanh_shrink, hard_shrink, soft_shrink, threshold),
and every activation spec of a recurrent layer exported as a Scan (``compose_spec``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import ExportContext, emitter
from kerasport.export.onnx.helpers import scalar
from kerasport.ir.graph import Node

COMPOSED = ("Celu", "HardTanh", "LogSigmoid", "SparsePlus", "SparseSigmoid", "Squareplus",
            "TanhShrink", "HardShrink", "SoftShrink", "Threshold")


def compose(ctx: Any, op: str, x: str, out: str, attrs: dict[str, Any]) -> str:
    """ONNX nodes computing IR activation ``op`` (one of COMPOSED) of ONNX tensor ``x``;
    returns the name of the result (built under ``out``)."""
    if op == "Celu":
        return ctx.add("Celu", [x], out, alpha=float(attrs.get("alpha", 1.0)))
    if op == "HardTanh":
        return ctx.add("Clip", [x, scalar(ctx, -1.0), scalar(ctx, 1.0)], out)
    if op == "SparseSigmoid":
        half = ctx.add("Mul", [ctx.add("Add", [x, scalar(ctx, 1.0)], f"{out}/x+1"),
                               scalar(ctx, 0.5)], f"{out}/half")
        return ctx.add("Clip", [half, scalar(ctx, 0.0), scalar(ctx, 1.0)], out)
    if op == "LogSigmoid":  # min(x, 0) - log(1 + exp(-|x|))
        e = ctx.add("Exp", [ctx.add("Neg", [ctx.add("Abs", [x], f"{out}/abs")], f"{out}/neg")],
                    f"{out}/exp")
        log = ctx.add("Log", [ctx.add("Add", [e, scalar(ctx, 1.0)], f"{out}/1+e")], f"{out}/log")
        return ctx.add("Sub", [ctx.add("Min", [x, scalar(ctx, 0.0)], f"{out}/min"), log], out)
    if op == "SparsePlus":  # 0 (x <= -1), (x + 1)^2 / 4 (x < 1), x
        p = ctx.add("Add", [x, scalar(ctx, 1.0)], f"{out}/x+1")
        mid = ctx.add("Mul", [ctx.add("Mul", [p, p], f"{out}/sq"), scalar(ctx, 0.25)],
                      f"{out}/mid")
        upper = ctx.add("Where", [ctx.add("Less", [x, scalar(ctx, 1.0)], f"{out}/lt1"), mid, x],
                        f"{out}/upper")
        low = ctx.add("LessOrEqual", [x, scalar(ctx, -1.0)], f"{out}/le-1")
        return ctx.add("Where", [low, scalar(ctx, 0.0), upper], out)
    if op == "Squareplus":  # (x + sqrt(x^2 + b)) / 2
        root = ctx.add("Sqrt", [ctx.add("Add", [ctx.add("Mul", [x, x], f"{out}/sq"),
                                                scalar(ctx, float(attrs.get("b", 4.0)))],
                                        f"{out}/sq+b")], f"{out}/sqrt")
        return ctx.add("Mul", [ctx.add("Add", [x, root], f"{out}/sum"), scalar(ctx, 0.5)], out)
    if op == "TanhShrink":
        return ctx.add("Sub", [x, ctx.add("Tanh", [x], f"{out}/tanh")], out)
    if op in ("HardShrink", "SoftShrink"):  # Shrink: x -/+ bias beyond +-lambd, else 0
        t = float(attrs.get("threshold", 0.5))
        return ctx.add("Shrink", [x], out, lambd=t, bias=t if op == "SoftShrink" else 0.0)
    if op == "Threshold":
        above = ctx.add("Greater", [x, scalar(ctx, float(attrs["threshold"]))], f"{out}/above")
        return ctx.add("Where", [above, x, scalar(ctx, float(attrs["default_value"]))], out)
    raise ValueError(f"no ONNX composition for activation op {op!r}")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_GAMMA = 1.0507009873554804934193349852946
# ONNX ops that compute an IR activation op with the same attributes
_DIRECT = {"Tanh": "Tanh", "Sigmoid": "Sigmoid", "Softplus": "Softplus", "Softsign": "Softsign"}


def _compose_common(ctx: Any, op: str, x: str, out: str, attrs: dict[str, Any]) -> str | None:
    """The activations ONNX's recurrent ops also know, and the sigmoid family; None if ``op``
    is none of them."""
    if op in _DIRECT:
        return ctx.add(_DIRECT[op], [x], out)
    if op == "Relu" and not any(attrs.get(k) for k in ("max_value", "negative_slope",
                                                       "threshold")):
        return ctx.add("Relu", [x], out)
    if op == "HardSigmoid":
        return ctx.add("HardSigmoid", [x], out, alpha=float(attrs.get("slope", 1.0 / 6.0)),
                       beta=float(attrs.get("offset", 0.5)))
    if op == "Elu":
        return ctx.add("Elu", [x], out, alpha=float(attrs.get("alpha", 1.0)))
    if op == "Selu":
        return ctx.add("Selu", [x], out, alpha=_SELU_ALPHA, gamma=_SELU_GAMMA)
    if op == "Silu":
        return ctx.add("Mul", [x, ctx.add("Sigmoid", [x], f"{out}/sigmoid")], out)
    if op == "HardSilu":
        if ctx.opset >= 14:
            return ctx.add("HardSwish", [x], out)
        gate = ctx.add("HardSigmoid", [x], f"{out}/gate", alpha=1.0 / 6.0, beta=0.5)
        return ctx.add("Mul", [x, gate], out)
    if op == "Gelu" and not attrs.get("approximate"):
        erf = ctx.add("Erf", [ctx.add("Mul", [x, scalar(ctx, 1 / np.sqrt(2.0))], f"{out}/s")],
                      f"{out}/erf")
        half = ctx.add("Mul", [x, scalar(ctx, 0.5)], f"{out}/half")
        return ctx.add("Mul", [half, ctx.add("Add", [erf, scalar(ctx, 1.0)], f"{out}/1+erf")], out)
    return None


def compose_spec(ctx: Any, spec: dict[str, Any] | None, x: str, out: str) -> str:
    """The activation ``spec`` ({"op": ..., **attributes}; None: linear) of ONNX tensor
    ``x`` (the runtime's ``apply_activation``)."""
    if spec is None:
        return x
    attrs = {k: v for k, v in spec.items() if k != "op"}
    common = _compose_common(ctx, spec["op"], x, out, attrs)
    return common if common is not None else compose(ctx, spec["op"], x, out, attrs)


@emitter(*COMPOSED)
def newer_activation(ctx: ExportContext, node: Node) -> None:
    """Elementwise, in whichever layout the input already has."""
    layout = ctx.preferred([node.inputs[0]])
    x = ctx.get(node.inputs[0], layout)
    out = node.outputs[0]
    ctx.set(out, compose(ctx, node.op, x, out, node.attrs), layout)


@emitter("Glu")
def glu(ctx: ExportContext, node: Node) -> None:
    """a * Sigmoid(b), a and b the two halves of the input along the axis (two Slices)."""
    x, out = node.inputs[0], node.outputs[0]
    rank = ctx.rank(x)
    keras_axis = node.attrs.get("axis", -1) % rank
    size = ctx.shape(x)[keras_axis]
    if not isinstance(size, int):
        raise KerasportError(f"'{node.layer}': Glu over a free axis cannot be exported to ONNX "
                             "(its halves need a known size)")
    layout = ctx.preferred([x])
    axis, xin, half = ctx.axis(keras_axis, rank, layout), ctx.get(x, layout), size // 2
    a = ctx.add("Slice", [xin, ctx.ints([0]), ctx.ints([half]), ctx.ints([axis])], f"{out}/a")
    b = ctx.add("Slice", [xin, ctx.ints([half]), ctx.ints([size]), ctx.ints([axis])], f"{out}/b")
    ctx.set(out, ctx.add("Mul", [a, ctx.add("Sigmoid", [b], f"{out}/sigmoid")], out), layout)
