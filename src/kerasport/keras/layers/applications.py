"""Classes that live in keras.applications rather than keras.layers (ConvNeXt's LayerScale
and StochasticDepth, InceptionResNetV2's CustomScaleLayer), and Keras 3 operations recorded in
functional models (``x + 3.0`` in MobileNetV3 becomes an ``ops.Add`` node)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.keras.config import TensorRef
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("LayerScale", "Custom>LayerScale", mask="drop")
def convert_layer_scale(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvNeXt's LayerScale: x * gamma (per channel)."""
    (gamma,) = ctx.weights_as(["gamma"], [(int(ctx.config["projection_dim"]),)])
    return [ctx.op("Mul", [inputs[0], ctx.const("gamma", gamma)])]


@register_converter("StochasticDepth", "Custom>StochasticDepth", cast_inputs=False, mask="drop")
def convert_stochastic_depth(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvNeXt's StochasticDepth: the identity at inference."""
    return [inputs[0]]


@register_converter("CustomScaleLayer", "Custom>CustomScaleLayer", mask="drop")
def convert_custom_scale(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """InceptionResNetV2's residual scaling: x0 + x1 * scale."""
    scale = np.float32(ctx.config["scale"])
    scaled = ctx.op("Mul", [inputs[1], ctx.const("scale", scale)], "scaled")
    return [ctx.op("Add", [inputs[0], scaled])]


_BINARY = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Maximum": "Max",
           "Minimum": "Min", "Divide": "Div", "TrueDivide": "Div"}


def operands(ctx: LayerContext) -> list[Any]:
    """The call's positional arguments, tensors as value names, numbers as constants."""
    out = []
    for i, arg in enumerate(ctx.call.args):
        if isinstance(arg, TensorRef):
            assert ctx.resolve is not None
            out.append(ctx.resolve(arg))
        else:
            ctx.require(isinstance(arg, (int, float)), None,
                        f"unsupported argument {arg!r} to operation {ctx.class_name}")
            out.append(ctx.const(f"arg{i}", np.asarray(arg, np.float32)))
    return out


@register_converter(*(f"ops.{name}" for name in _BINARY), mask="drop")
def convert_binary_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """keras.ops add/subtract/multiply/divide/maximum/minimum on tensors and numbers."""
    args = operands(ctx)
    ctx.require(len(args) == 2, None, f"{ctx.class_name} takes two operands")
    return [ctx.op(_BINARY[ctx.class_name], args)]


_TF_BINARY = {"__operators__.add": "Add", "math.add": "Add", "math.subtract": "Sub",
              "math.multiply": "Mul", "math.truediv": "Div", "math.divide": "Div",
              "math.maximum": "Max", "math.minimum": "Min"}
_TF_UNARY = {"nn.relu": ("Relu", {}), "nn.relu6": ("Relu", {"max_value": 6.0}),
             "math.sigmoid": ("Sigmoid", {}), "math.tanh": ("Tanh", {}),
             "nn.silu": ("Silu", {}), "nn.swish": ("Silu", {}), "math.exp": ("Exp", {}),
             "nn.gelu": ("Gelu", {})}


def _operand(ctx: LayerContext, value: Any, name: str) -> str:
    if isinstance(value, TensorRef):
        assert ctx.resolve is not None
        return ctx.resolve(value)
    ctx.require(isinstance(value, (int, float)), None,
                f"unsupported argument {value!r} to {ctx.config.get('function')}")
    return ctx.const(name, np.asarray(value, np.float32))


@register_converter("TFOpLambda", mask="drop")
def convert_tf_op_lambda(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Keras 2's recorded TensorFlow calls (``x + 3.0`` -> tf.__operators__.add): the
    elementwise arithmetic and activations that keras.applications use."""
    fn = str(ctx.config.get("function"))
    supported = sorted([*_TF_BINARY, *_TF_UNARY])
    ctx.require(fn in _TF_BINARY or fn in _TF_UNARY, "function",
                f"TensorFlow function tf.{fn} is not supported",
                "supported: " + ", ".join(f"tf.{f}" for f in supported))
    kwargs = ctx.call.kwargs
    if fn in _TF_UNARY:
        op, attrs = _TF_UNARY[fn]
        return [ctx.op(op, [inputs[0]], **attrs)]
    args = list(ctx.call.args)
    x = args[0] if args else kwargs.get("x")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    ctx.require(x is not None and y is not None, None, f"tf.{fn} needs two operands")
    return [ctx.op(_TF_BINARY[fn], [_operand(ctx, x, "x"), _operand(ctx, y, "y")])]
