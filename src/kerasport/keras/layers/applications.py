"""Classes that live in keras.applications rather than keras.layers (ConvNeXt's LayerScale
and StochasticDepth, InceptionResNetV2's CustomScaleLayer), and Keras 3 operations recorded in
functional models (``x + 3.0`` in MobileNetV3 becomes an ``ops.Add`` node)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.keras.config import TensorRef
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("LayerScale")
def convert_layer_scale(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvNeXt's LayerScale: x * gamma (per channel)."""
    (gamma,) = ctx.weights_as(["gamma"], [(int(ctx.config["projection_dim"]),)])
    return [ctx.op("Mul", [inputs[0], ctx.const("gamma", gamma)])]


@register_converter("StochasticDepth", cast_inputs=False)
def convert_stochastic_depth(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvNeXt's StochasticDepth: the identity at inference."""
    return [inputs[0]]


@register_converter("CustomScaleLayer")
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


@register_converter(*(f"ops.{name}" for name in _BINARY))
def convert_binary_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """keras.ops add/subtract/multiply/divide/maximum/minimum on tensors and numbers."""
    args = operands(ctx)
    ctx.require(len(args) == 2, None, f"{ctx.class_name} takes two operands")
    return [ctx.op(_BINARY[ctx.class_name], args)]
