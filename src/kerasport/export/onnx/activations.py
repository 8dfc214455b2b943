"""ONNX emitters for the activation ops (layout-agnostic: they run in whichever layout their
input already has): native ONNX ops where they exist, else compositions of standard ONNX ops
that follow the runtime's kernels (Keras 3's newer activations: celu, hard_tanh, log_sigmoid,
sparse_plus, sparse_sigmoid, squareplus, tanh_shrink, hard_shrink, soft_shrink, threshold),
and every activation spec of a recurrent layer exported as a Scan (``compose_spec``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import ExportContext, emitter
from kerasport.export.onnx.helpers import scalar, unary_input
from kerasport.ir.graph import Node
from kerasport.ops.activations import SELU_ALPHA, SELU_SCALE

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
        return ctx.add("Selu", [x], out, alpha=SELU_ALPHA, gamma=SELU_SCALE)
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


_SIMPLE = {"Sigmoid": "Sigmoid", "Softplus": "Softplus", "Softsign": "Softsign",
           "Tanh": "Tanh", "Exp": "Exp"}


@emitter(*_SIMPLE)
def simple(ctx: ExportContext, node: Node) -> None:
    """One-to-one activations."""
    x, layout = unary_input(ctx, node)
    ctx.set(node.outputs[0], ctx.add(_SIMPLE[node.op], [x], node.outputs[0]), layout)


@emitter("Relu")
def relu(ctx: ExportContext, node: Node) -> None:
    """Keras' relu(max_value, negative_slope, threshold) from Relu/Clip/Where pieces."""
    a = node.attrs
    x, layout = unary_input(ctx, node)
    out = node.outputs[0]
    max_value, slope = a.get("max_value"), float(a.get("negative_slope") or 0.0)
    threshold = float(a.get("threshold") or 0.0)
    if slope and max_value is None and not threshold:
        y = ctx.add("LeakyRelu", [x], out, alpha=slope)
    elif not slope and not threshold:
        y = ctx.add("Relu", [x], out) if max_value is None else ctx.add(
            "Clip", [x, scalar(ctx, 0.0), scalar(ctx, max_value)], out)
    else:
        if threshold:
            above = ctx.add("Greater", [x, scalar(ctx, threshold)], f"{out}/above")
            y = ctx.add("Where", [above, x, scalar(ctx, 0.0)], f"{out}/thresholded")
        else:
            y = ctx.add("Relu", [x], f"{out}/relu")
        if max_value is not None:
            y = ctx.add("Min", [y, scalar(ctx, max_value)], f"{out}/clip")
        if slope:
            neg = ctx.add("Relu", [ctx.add("Sub", [scalar(ctx, threshold), x], f"{out}/t-x")],
                          f"{out}/neg")
            y = ctx.add("Sub", [y, ctx.add("Mul", [neg, scalar(ctx, slope)], f"{out}/slope")],
                        out)
    ctx.set(out, y, layout)


@emitter("LeakyRelu")
def leaky_relu(ctx: ExportContext, node: Node) -> None:
    """LeakyRelu(alpha)."""
    x, layout = unary_input(ctx, node)
    ctx.set(node.outputs[0], ctx.add("LeakyRelu", [x], node.outputs[0],
                                     alpha=float(node.attrs.get("alpha", 0.2))), layout)


@emitter("Elu")
def elu(ctx: ExportContext, node: Node) -> None:
    """Elu(alpha)."""
    x, layout = unary_input(ctx, node)
    ctx.set(node.outputs[0], ctx.add("Elu", [x], node.outputs[0],
                                     alpha=float(node.attrs.get("alpha", 1.0))), layout)


@emitter("Selu")
def selu(ctx: ExportContext, node: Node) -> None:
    """Selu with Keras' constants."""
    x, layout = unary_input(ctx, node)
    ctx.set(node.outputs[0], ctx.add("Selu", [x], node.outputs[0], alpha=SELU_ALPHA,
                                     gamma=SELU_SCALE), layout)


@emitter("HardSigmoid")
def hard_sigmoid(ctx: ExportContext, node: Node) -> None:
    """HardSigmoid(alpha=slope, beta=offset)."""
    x, layout = unary_input(ctx, node)
    ctx.set(node.outputs[0], ctx.add(
        "HardSigmoid", [x], node.outputs[0], alpha=float(node.attrs.get("slope", 1 / 6)),
        beta=float(node.attrs.get("offset", 0.5))), layout)


@emitter("HardSilu")
def hard_silu(ctx: ExportContext, node: Node) -> None:
    """x * relu6(x + 3) / 6 = HardSwish (opset 14), else x * HardSigmoid(x)."""
    x, layout = unary_input(ctx, node)
    out = node.outputs[0]
    if ctx.opset >= 14:
        y = ctx.add("HardSwish", [x], out)
    else:
        gate = ctx.add("HardSigmoid", [x], f"{out}/gate", alpha=1.0 / 6.0, beta=0.5)
        y = ctx.add("Mul", [x, gate], out)
    ctx.set(out, y, layout)


@emitter("Silu")
def silu(ctx: ExportContext, node: Node) -> None:
    """x * sigmoid(x)."""
    x, layout = unary_input(ctx, node)
    s = ctx.add("Sigmoid", [x], f"{node.outputs[0]}/sigmoid")
    ctx.set(node.outputs[0], ctx.add("Mul", [x, s], node.outputs[0]), layout)


@emitter("Mish")
def mish(ctx: ExportContext, node: Node) -> None:
    """Mish (opset 18), else x * tanh(softplus(x))."""
    x, layout = unary_input(ctx, node)
    out = node.outputs[0]
    if ctx.opset >= 18:
        y = ctx.add("Mish", [x], out)
    else:
        sp = ctx.add("Softplus", [x], f"{out}/softplus")
        y = ctx.add("Mul", [x, ctx.add("Tanh", [sp], f"{out}/tanh")], out)
    ctx.set(out, y, layout)


@emitter("Gelu")
def gelu(ctx: ExportContext, node: Node) -> None:
    """Gelu (opset 20), else composed from Erf or Tanh."""
    x, layout = unary_input(ctx, node)
    out = node.outputs[0]
    approximate = bool(node.attrs.get("approximate", False))
    if ctx.opset >= 20:
        y = ctx.add("Gelu", [x], out, approximate="tanh" if approximate else "none")
    elif approximate:
        cube = ctx.add("Mul", [ctx.add("Mul", [x, x], f"{out}/sq"), x], f"{out}/cube")
        inner = ctx.add("Add", [x, ctx.add("Mul", [cube, scalar(ctx, 0.044715)],
                                           f"{out}/c3")], f"{out}/inner")
        t = ctx.add("Tanh", [ctx.add("Mul", [inner, scalar(ctx, math.sqrt(2 / math.pi))],
                                     f"{out}/scaled")], f"{out}/tanh")
        half = ctx.add("Mul", [x, scalar(ctx, 0.5)], f"{out}/half")
        y = ctx.add("Mul", [half, ctx.add("Add", [t, scalar(ctx, 1.0)], f"{out}/1+t")], out)
    else:
        e = ctx.add("Erf", [ctx.add("Mul", [x, scalar(ctx, 1 / math.sqrt(2))], f"{out}/s")],
                    f"{out}/erf")
        half = ctx.add("Mul", [x, scalar(ctx, 0.5)], f"{out}/half")
        y = ctx.add("Mul", [half, ctx.add("Add", [e, scalar(ctx, 1.0)], f"{out}/1+erf")], out)
    ctx.set(out, y, layout)


def _softmax(ctx: ExportContext, node: Node, log: bool) -> None:
    x = node.inputs[0]
    rank = ctx.rank(x)
    layout = ctx.preferred([x])
    axis = node.attrs.get("axis", -1)
    axes = sorted({ctx.axis(a, rank, layout) for a in (axis if isinstance(axis, list)
                                                        else [axis])})
    xin = ctx.get(x, layout)
    out = node.outputs[0]
    if len(axes) == 1:
        y = ctx.add("LogSoftmax" if log else "Softmax", [xin], out, axis=axes[0])
    else:
        m = ctx.reduce("ReduceMax", xin, axes, True, f"{out}/max")
        shifted = ctx.add("Sub", [xin, m], f"{out}/shifted")
        e = ctx.add("Exp", [shifted], f"{out}/exp")
        s = ctx.reduce("ReduceSum", e, axes, True, f"{out}/sum")
        y = (ctx.add("Sub", [shifted, ctx.add("Log", [s], f"{out}/log")], out) if log
             else ctx.add("Div", [e, s], out))
    ctx.set(out, y, layout)


@emitter("Softmax")
def softmax(ctx: ExportContext, node: Node) -> None:
    """Softmax over one axis (native) or several (composed)."""
    _softmax(ctx, node, log=False)


@emitter("LogSoftmax")
def log_softmax(ctx: ExportContext, node: Node) -> None:
    """LogSoftmax over one axis (native) or several (composed)."""
    _softmax(ctx, node, log=True)


@emitter("PRelu")
def prelu(ctx: ExportContext, node: Node) -> None:
    """relu(x) - alpha * relu(-x) = PRelu with alpha laid out like x."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred([node.inputs[0]])
    y = ctx.add("PRelu", [ctx.get(node.inputs[0], layout),
                          ctx.operand(node.inputs[1], layout, rank)], node.outputs[0])
    ctx.set(node.outputs[0], y, layout)
