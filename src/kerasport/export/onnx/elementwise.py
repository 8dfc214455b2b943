"""ONNX emitters for activations and elementwise ops (layout-agnostic: they run in whichever
layout their input already has)."""

from __future__ import annotations

import math

from kerasport.export.onnx.context import CL, ExportContext, emitter
from kerasport.export.onnx.helpers import onnx_dtype, scalar
from kerasport.ir.graph import Node

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_GAMMA = 1.0507009873554804934193349852946


def _unary(ctx: ExportContext, node: Node) -> tuple[str, str]:
    """(ONNX input name, layout) for a single-input layout-agnostic op."""
    layout = ctx.preferred([node.inputs[0]])
    return ctx.get(node.inputs[0], layout), layout


_SIMPLE = {"Sigmoid": "Sigmoid", "Softplus": "Softplus", "Softsign": "Softsign",
           "Tanh": "Tanh", "Exp": "Exp"}


@emitter(*_SIMPLE)
def simple(ctx: ExportContext, node: Node) -> None:
    """One-to-one activations."""
    x, layout = _unary(ctx, node)
    ctx.set(node.outputs[0], ctx.add(_SIMPLE[node.op], [x], node.outputs[0]), layout)


@emitter("Relu")
def relu(ctx: ExportContext, node: Node) -> None:
    """Keras' relu(max_value, negative_slope, threshold) from Relu/Clip/Where pieces."""
    a = node.attrs
    x, layout = _unary(ctx, node)
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
    x, layout = _unary(ctx, node)
    ctx.set(node.outputs[0], ctx.add("LeakyRelu", [x], node.outputs[0],
                                     alpha=float(node.attrs.get("alpha", 0.2))), layout)


@emitter("Elu")
def elu(ctx: ExportContext, node: Node) -> None:
    """Elu(alpha)."""
    x, layout = _unary(ctx, node)
    ctx.set(node.outputs[0], ctx.add("Elu", [x], node.outputs[0],
                                     alpha=float(node.attrs.get("alpha", 1.0))), layout)


@emitter("Selu")
def selu(ctx: ExportContext, node: Node) -> None:
    """Selu with Keras' constants."""
    x, layout = _unary(ctx, node)
    ctx.set(node.outputs[0], ctx.add("Selu", [x], node.outputs[0], alpha=_SELU_ALPHA,
                                     gamma=_SELU_GAMMA), layout)


@emitter("HardSigmoid")
def hard_sigmoid(ctx: ExportContext, node: Node) -> None:
    """HardSigmoid(alpha=slope, beta=offset)."""
    x, layout = _unary(ctx, node)
    ctx.set(node.outputs[0], ctx.add(
        "HardSigmoid", [x], node.outputs[0], alpha=float(node.attrs.get("slope", 1 / 6)),
        beta=float(node.attrs.get("offset", 0.5))), layout)


@emitter("HardSilu")
def hard_silu(ctx: ExportContext, node: Node) -> None:
    """x * relu6(x + 3) / 6 = HardSwish (opset 14), else x * HardSigmoid(x)."""
    x, layout = _unary(ctx, node)
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
    x, layout = _unary(ctx, node)
    s = ctx.add("Sigmoid", [x], f"{node.outputs[0]}/sigmoid")
    ctx.set(node.outputs[0], ctx.add("Mul", [x, s], node.outputs[0]), layout)


@emitter("Mish")
def mish(ctx: ExportContext, node: Node) -> None:
    """Mish (opset 18), else x * tanh(softplus(x))."""
    x, layout = _unary(ctx, node)
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
    x, layout = _unary(ctx, node)
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


_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div"}
_VARIADIC = {"Max": "Max", "Min": "Min", "Mean": "Mean"}


@emitter(*_BINARY, *_VARIADIC)
def elementwise(ctx: ExportContext, node: Node) -> None:
    """Broadcasting arithmetic in the inputs' layout (constants laid out to match)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(list(node.inputs))
    if any(not ctx.is_const(v) and ctx.rank(v) < rank for v in node.inputs):
        layout = CL  # a lower-rank tensor broadcasts along the trailing (channels-last) axes
    args = [ctx.operand(v, layout, rank) for v in node.inputs]
    out = node.outputs[0]
    if node.op in _VARIADIC:
        y = ctx.add(_VARIADIC[node.op], args, out)
    else:
        y = args[0]
        for i, arg in enumerate(args[1:]):
            y = ctx.add(_BINARY[node.op], [y, arg], out if i == len(args) - 2 else f"{out}/{i}")
    ctx.set(out, y, layout)


@emitter("Affine")
def affine(ctx: ExportContext, node: Node) -> None:
    """x * scale + shift (folded BatchNormalization, Rescaling, Normalization)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred([node.inputs[0]])
    y = ctx.get(node.inputs[0], layout)
    out = node.outputs[0]
    if len(node.inputs) > 1:
        y = ctx.add("Mul", [y, ctx.operand(node.inputs[1], layout, rank)],
                    out if len(node.inputs) == 2 else f"{out}/scale")
    if len(node.inputs) > 2:
        y = ctx.add("Add", [y, ctx.operand(node.inputs[2], layout, rank)], out)
    ctx.set(out, y, layout)


@emitter("PRelu")
def prelu(ctx: ExportContext, node: Node) -> None:
    """relu(x) - alpha * relu(-x) = PRelu with alpha laid out like x."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred([node.inputs[0]])
    y = ctx.add("PRelu", [ctx.get(node.inputs[0], layout),
                          ctx.operand(node.inputs[1], layout, rank)], node.outputs[0])
    ctx.set(node.outputs[0], y, layout)


@emitter("Cast")
def cast(ctx: ExportContext, node: Node) -> None:
    """Cast(to)."""
    x, layout = _unary(ctx, node)
    to = onnx_dtype(node.attrs.get("dtype", "float32"))
    ctx.set(node.outputs[0], ctx.add("Cast", [x], node.outputs[0], to=to), layout)



_MATH = {"sqrt": "Sqrt", "log": "Log", "neg": "Neg", "abs": "Abs", "reciprocal": "Reciprocal",
         "floor": "Floor", "ceil": "Ceil", "erf": "Erf", "sin": "Sin", "cos": "Cos",
         "sign": "Sign", "round": "Round"}


@emitter("Math")
def math_fn(ctx: ExportContext, node: Node) -> None:
    """One ONNX op per function (Sqrt, Log, Neg, ...)."""
    x, layout = _unary(ctx, node)
    op = _MATH[node.attrs.get("fn", "sqrt")]
    ctx.set(node.outputs[0], ctx.add(op, [x], node.outputs[0]), layout)


def _broadcasting(ctx: ExportContext, node: Node, op: str, inputs: list[str],
                  **attrs) -> None:
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(inputs)
    if any(not ctx.is_const(v) and ctx.rank(v) < rank for v in inputs):
        layout = CL
    args = [ctx.operand(v, layout, rank) for v in inputs]
    ctx.set(node.outputs[0], ctx.add(op, args, node.outputs[0], **attrs), layout)


@emitter("Pow")
def pow_(ctx: ExportContext, node: Node) -> None:
    """Pow(a, b)."""
    _broadcasting(ctx, node, "Pow", list(node.inputs))


@emitter("Where")
def where(ctx: ExportContext, node: Node) -> None:
    """Where(cond, a, b) from the IR's (a, b, cond)."""
    a, b, cond = node.inputs
    _broadcasting(ctx, node, "Where", [cond, a, b])


_COMPARE = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
            "greater": "Greater", "greater_equal": "GreaterOrEqual"}
_LOGIC = {"not": "Not", "and": "And", "or": "Or", "xor": "Xor"}


@emitter("Compare")
def compare(ctx: ExportContext, node: Node) -> None:
    """Equal / Less / LessOrEqual / Greater / GreaterOrEqual."""
    _broadcasting(ctx, node, _COMPARE[node.attrs.get("mode", "equal")], list(node.inputs))


@emitter("Logic")
def logic(ctx: ExportContext, node: Node) -> None:
    """Not / And / Or / Xor."""
    ins = [v for v in node.inputs if v]
    _broadcasting(ctx, node, _LOGIC[node.attrs.get("mode", "not")], ins)


@emitter("Mod")
def mod(ctx: ExportContext, node: Node) -> None:
    """Mod(fmod); a float mod with the divisor's sign before opset 28 is a - b floor(a / b)."""
    fmod = bool(node.attrs.get("fmod"))
    if fmod or ctx.graph.values[node.inputs[0]].dtype[0] != "f" or ctx.opset >= 28:
        _broadcasting(ctx, node, "Mod", list(node.inputs), fmod=int(fmod))
        return
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(list(node.inputs))
    if any(not ctx.is_const(v) and ctx.rank(v) < rank for v in node.inputs):
        layout = CL
    a, b = (ctx.operand(v, layout, rank) for v in node.inputs)
    out = node.outputs[0]
    floor = ctx.add("Floor", [ctx.add("Div", [a, b], f"{out}/div")], f"{out}/floor")
    y = ctx.add("Sub", [a, ctx.add("Mul", [b, floor], f"{out}/mul")], out)
    ctx.set(out, y, layout)
