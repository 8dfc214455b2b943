"""Elementwise arithmetic: ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM (n-ary ones as chains), the
mean of several inputs, Affine as MUL + ADD, CAST."""

from __future__ import annotations

from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.helpers import (
    activation_code,
    fused_output,
    options,
    read,
    scalar,
    schema,
    temp,
    write,
)
from kerasport.ir.graph import Node

_CODES = {"Add": ("ADD", "AddOptions"), "Sub": ("SUB", "SubOptions"),
          "Mul": ("MUL", "MulOptions"), "Div": ("DIV", "DivOptions"),
          "Max": ("MAXIMUM", "MaximumMinimumOptions"),
          "Min": ("MINIMUM", "MaximumMinimumOptions")}


def binary(ctx: TFLiteContext, code: str, a: int, b: int, out: int, act: int | None = None) -> int:
    """One broadcasting binary op ``code`` (ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM ...)."""
    kind = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
            "DIV": "DivOptions"}.get(code)
    opts = None
    if kind:
        opts = options(kind, fusedActivationFunction=activation_code("NONE") if act is None
                       else act)
    ctx.op(code, [a, b], [out], opts)
    return out


def chain(ctx: TFLiteContext, node: Node, code: str, out: int, act: int | None = None) -> int:
    """The inputs of ``node`` combined pairwise left to right by ``code`` into ``out``."""
    acc = read(ctx, node.inputs[0])
    shape = ctx.shape(node.outputs[0])
    for i, name in enumerate(node.inputs[1:]):
        last = i == len(node.inputs) - 2
        dst = out if last else temp(ctx, f"{node.outputs[0]}/part{i}", shape)
        acc = binary(ctx, code, acc, read(ctx, name), dst, act if last else None)
    return acc


@emitter("Add", "Sub", "Mul", "Div", fuses=True)
def arithmetic(ctx: TFLiteContext, node: Node) -> None:
    """ADD / SUB / MUL / DIV (n inputs: a chain), with a fused Relu/Relu6."""
    out, act = fused_output(ctx, node.outputs[0])
    chain(ctx, node, _CODES[node.op][0], out, act)


@emitter("Max", "Min")
def extremum(ctx: TFLiteContext, node: Node) -> None:
    """MAXIMUM / MINIMUM of n inputs."""
    chain(ctx, node, _CODES[node.op][0], write(ctx, node.outputs[0]))


@emitter("Mean")
def mean(ctx: TFLiteContext, node: Node) -> None:
    """The mean of n inputs: ADDs, then MUL by 1/n."""
    total = temp(ctx, f"{node.outputs[0]}/sum", ctx.shape(node.outputs[0]))
    chain(ctx, node, "ADD", total)
    binary(ctx, "MUL", total, scalar(ctx, 1.0 / len(node.inputs)), write(ctx, node.outputs[0]))


@emitter("Affine")
def affine(ctx: TFLiteContext, node: Node) -> None:
    """x * scale + shift (either absent): MUL then ADD."""
    x = read(ctx, node.inputs[0])
    scale = node.inputs[1] if len(node.inputs) > 1 else ""
    shift = node.inputs[2] if len(node.inputs) > 2 else ""
    if not scale and not shift:
        ctx.index[node.outputs[0]] = x  # the identity: the same tensor
        return
    out = write(ctx, node.outputs[0])
    if scale:
        dst = temp(ctx, f"{node.outputs[0]}/scaled", ctx.shape(node.outputs[0])) if shift \
            else out
        x = binary(ctx, "MUL", x, read(ctx, scale), dst)
    if shift:
        binary(ctx, "ADD", x, read(ctx, shift), out)


@emitter("Cast")
def cast(ctx: TFLiteContext, node: Node) -> None:
    """CAST to the output's dtype."""
    s = schema()
    from kerasport.export.tflite.writer.serialize import TYPES

    x = read(ctx, node.inputs[0])
    out = write(ctx, node.outputs[0])
    ctx.op("CAST", [x], [out], options(
        "CastOptions", inDataType=getattr(s.TensorType, TYPES[ctx.tensors[x].dtype]),
        outDataType=getattr(s.TensorType, TYPES[ctx.tensors[out].dtype])))
