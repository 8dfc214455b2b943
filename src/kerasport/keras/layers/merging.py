"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate."""

from __future__ import annotations

from kerasport.keras.registry import LayerContext, register_converter

_OPS = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Average": "Mean",
        "Maximum": "Max", "Minimum": "Min"}


def _same_rank(ctx: LayerContext, inputs: list[str]) -> list[str]:
    # Keras expands lower-rank inputs at axis 1 before merging.
    ranks = [ctx.rank(v) for v in inputs]
    top = max(ranks)
    out = []
    for i, (v, r) in enumerate(zip(inputs, ranks)):
        if r < top:
            shape = ctx.shape(v)
            ctx.require(None not in shape[1:], None, "cannot broadcast inputs of unknown shape")
            v = ctx.op("Reshape", [v], f"expand{i}", shape=[1] * (top - r) + list(shape[1:]))
        out.append(v)
    return out


@register_converter(*_OPS, mask="merge")
def convert_merge(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Elementwise merge of two or more inputs (broadcasting as Keras 3 does)."""
    ctx.require(len(inputs) >= 2 or ctx.class_name != "Subtract", None,
                "Subtract needs exactly two inputs")
    if len(inputs) == 1:
        return [inputs[0]]
    return [ctx.op(_OPS[ctx.class_name], _same_rank(ctx, inputs))]


@register_converter("Concatenate", mask="merge")
def convert_concatenate(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Concatenate along ``axis``."""
    if len(inputs) == 1:
        return [inputs[0]]
    return [ctx.op("Concat", inputs, axis=int(ctx.config.get("axis", -1)))]
