"""Keras masks: the Masking layer, and the operations Keras 3 records in a functional graph to
compute masks (``NotEqual`` for Embedding(mask_zero=True), ``Any`` for Masking,
``LogicalOr``/``LogicalAnd`` where merging layers combine masks, ``ExpandDims``,
``ZerosLike`` and ``Concatenate`` where Concatenate does).

Masks are float32 values of 1 (keep) and 0 (masked) in the IR.
"""

from __future__ import annotations

from kerasport.keras.layers.applications import operands
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("Masking", mask="own")
def convert_masking(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Masks the timesteps whose features all equal mask_value, and zeroes them."""
    value = float(ctx.config.get("mask_value", 0.0))
    mask = ctx.op("MaskNotEqual", [inputs[0]], "mask", value=value, axis=-1, dtype="float32")
    ctx.output_masks = [mask]
    return [ctx.op("ApplyMask", [inputs[0], mask])]


def _number(ctx: LayerContext, arg) -> float:
    ctx.require(isinstance(arg, (int, float)), None,
                f"{ctx.class_name} against a tensor is not supported, only against a number")
    return float(arg)


@register_converter("ops.NotEqual", "ops.Equal", cast_inputs=False, mask="drop")
def convert_not_equal(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """x != number (x == number): a 0/1 mask."""
    args = list(ctx.call.args)
    ctx.require(len(args) == 2, None, f"{ctx.class_name} takes two operands")
    value = _number(ctx, args[1])
    mask = ctx.op("MaskNotEqual", [inputs[0]], value=value, dtype="float32")
    if ctx.class_name == "Equal":
        mask = ctx.op("MaskLogical", [mask], "not", mode="not")
    return [mask]


@register_converter("ops.Any", "ops.All", mask="drop")
def convert_any(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """any/all over an axis (None: every axis) of a 0/1 tensor."""
    axis = ctx.config.get("axis")
    ctx.require(axis is None or isinstance(axis, int), "axis",
                f"{ctx.class_name} over several axes is not supported")
    return [ctx.op("MaskReduce", [inputs[0]], mode=ctx.class_name.lower(), axis=axis,
                   keepdims=bool(ctx.config.get("keepdims", False)))]


@register_converter("ops.LogicalOr", "ops.LogicalAnd", "ops.LogicalNot", mask="drop")
def convert_logical(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Logical or/and/not of 0/1 tensors."""
    args = operands(ctx)
    mode = {"LogicalOr": "or", "LogicalAnd": "and", "LogicalNot": "not"}[ctx.class_name]
    ctx.require(len(args) == (1 if mode == "not" else 2), None,
                f"{ctx.class_name} takes {'one operand' if mode == 'not' else 'two operands'}")
    return [ctx.op("MaskLogical", args, mode=mode)]


@register_converter("ops.ExpandDims", cast_inputs=False, mask="drop")
def convert_expand_dims(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """A new axis of size 1."""
    axis = ctx.config.get("axis", -1)
    ctx.require(isinstance(axis, int), "axis", "expand_dims over several axes is not supported")
    return [ctx.op("ExpandDims", [inputs[0]], axis=int(axis))]


@register_converter("ops.ZerosLike", "ops.OnesLike", cast_inputs=False, mask="drop")
def convert_fill_like(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """zeros_like / ones_like (a bool result is a 0/1 float32 mask)."""
    dtype = ctx.config.get("dtype") or ctx.builder.values[inputs[0]].dtype
    dtype = "float32" if dtype in ("bool", "float16", "bfloat16", "float64") else dtype
    value = 0.0 if ctx.class_name == "ZerosLike" else 1.0
    return [ctx.op("Fill", [inputs[0]], value=value, dtype=dtype)]


@register_converter("ops.Concatenate", mask="drop")
def convert_concatenate_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """keras.ops.concatenate of tensors along ``axis``."""
    return [ctx.op("Concat", inputs, axis=int(ctx.config.get("axis", 0)))]
