"""Elementwise arithmetic: ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM (n-ary ones as chains), the
mean of several inputs, Affine as MUL + ADD, CAST."""

from __future__ import annotations

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import (
    TFLiteContext,
    emitter,
)
from kerasport.export.tflite.writer.helpers import (
    activation_code,
    alias,
    bi,
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




_COMPARE = {"equal": "EQUAL", "less": "LESS", "less_equal": "LESS_EQUAL",
            "greater": "GREATER", "greater_equal": "GREATER_EQUAL"}
_MATH = {"sqrt": "SQRT", "log": "LOG", "neg": "NEG", "abs": "ABS", "floor": "FLOOR",
         "ceil": "CEIL", "sin": "SIN", "cos": "COS", "sign": "SIGN", "round": "ROUND"}


def _as(ctx: TFLiteContext, x: int, dtype: str) -> int:
    from kerasport.export.tflite.writer.mask import cast

    return cast(ctx, x, dtype)


@emitter("Pow")
def power(ctx: TFLiteContext, node: Node) -> None:
    """POW, the exponent in the base's dtype."""
    a = read(ctx, node.inputs[0])
    b = _as(ctx, read(ctx, node.inputs[1]), ctx.tensors[a].dtype)
    ctx.op("POW", [a, b], [write(ctx, node.outputs[0])])


@emitter("Where")
def where(ctx: TFLiteContext, node: Node) -> None:
    """SELECT_V2(cond, a, b)."""
    a, b = read(ctx, node.inputs[0]), read(ctx, node.inputs[1])
    cond = _as(ctx, read(ctx, node.inputs[2]), "bool")
    ctx.op("SELECT_V2", [cond, a, _as(ctx, b, ctx.tensors[a].dtype)],
           [write(ctx, node.outputs[0])])


@emitter("Compare")
def compare(ctx: TFLiteContext, node: Node) -> None:
    """EQUAL, LESS, LESS_EQUAL, GREATER or GREATER_EQUAL (booleans, cast if asked)."""
    a, b = read(ctx, node.inputs[0]), read(ctx, node.inputs[1])
    code = _COMPARE.get(node.attrs.get("mode", "equal"))
    if code is None:
        raise KerasportError(f"layer '{node.layer}': comparison {node.attrs.get('mode')!r} "
                             "has no TFLite form")
    out = bi(ctx, code, a, _as(ctx, b, ctx.tensors[a].dtype), "bool")
    alias(ctx, node.outputs[0], _as(ctx, out, ctx.dtype(node.outputs[0])))


@emitter("Logic")
def logic(ctx: TFLiteContext, node: Node) -> None:
    """LOGICAL_NOT / AND / OR; xor as NOT_EQUAL of booleans."""
    mode = node.attrs.get("mode", "not")
    a = _as(ctx, read(ctx, node.inputs[0]), "bool")
    if mode == "not":
        ctx.op("LOGICAL_NOT", [a], [write(ctx, node.outputs[0])])
        return
    b = _as(ctx, read(ctx, node.inputs[1]), "bool")
    code = {"and": "LOGICAL_AND", "or": "LOGICAL_OR", "xor": "NOT_EQUAL"}[mode]
    ctx.op(code, [a, b], [write(ctx, node.outputs[0])])


@emitter("Math")
def math(ctx: TFLiteContext, node: Node) -> None:
    """SQRT, LOG, NEG, ABS, FLOOR, CEIL, SIN, COS, SIGN, ROUND; reciprocal as DIV."""
    fn = node.attrs.get("fn", "sqrt")
    x = read(ctx, node.inputs[0])
    if fn == "reciprocal":
        binary(ctx, "DIV", scalar(ctx, 1.0), x, write(ctx, node.outputs[0]))
        return
    if fn not in _MATH:
        raise KerasportError(f"layer '{node.layer}': {fn} has no TFLite builtin")
    ctx.op(_MATH[fn], [x], [write(ctx, node.outputs[0])])


@emitter("Mod")
def mod(ctx: TFLiteContext, node: Node) -> None:
    """FLOOR_MOD (Python's %, the sign of b); C's fmod as a - b * trunc(a / b) is refused."""
    if node.attrs.get("fmod"):
        raise KerasportError(f"layer '{node.layer}': fmod (the sign of a) has no TFLite "
                             "builtin")
    a = read(ctx, node.inputs[0])
    b = _as(ctx, read(ctx, node.inputs[1]), ctx.tensors[a].dtype)
    ctx.op("FLOOR_MOD", [a, b], [write(ctx, node.outputs[0])])
