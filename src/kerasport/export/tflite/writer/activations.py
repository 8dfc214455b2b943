"""Activations: the TFLite builtins (RELU, RELU6, RELU_0_TO_1, RELU_N1_TO_1, LEAKY_RELU,
PRELU, ELU, GELU, LOGISTIC, TANH, HARD_SWISH, EXP, SOFTMAX, LOG_SOFTMAX), the others as short
formulas of builtins. ``lower`` is also what recurrent cells unrolled step by step use."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.helpers import (
    alias,
    bi,
    ints,
    options,
    read,
    scalar,
    select,
    temp,
    tshape,
    un,
)
from kerasport.ir.graph import Node
from kerasport.ops.activations import SELU_ALPHA, SELU_SCALE

Lowering = Any  # (ctx, x, **attrs) -> tensor index
LOWERINGS: dict[str, Lowering] = {}


def lowering(name: str):
    """Register how activation op ``name`` is written (x tensor -> result tensor)."""

    def deco(fn):
        LOWERINGS[name] = fn
        return fn

    return deco


def lower(ctx: TFLiteContext, spec: dict | None, x: int) -> int:
    """Activation spec ``{"op": ..., **attrs}`` (None: linear) applied to tensor ``x``."""
    if spec is None:
        return x
    attrs = {k: v for k, v in spec.items() if k != "op"}
    if spec["op"] not in LOWERINGS:
        raise KerasportError(f"layer '{ctx.layer}': activation {spec['op']} has no TFLite "
                             "form")
    return LOWERINGS[spec["op"]](ctx, x, **attrs)


def _zero(ctx: TFLiteContext) -> int:
    return scalar(ctx, 0.0, "zero")


@lowering("Relu")
def _relu(ctx, x, max_value=None, negative_slope=0.0, threshold=0.0):
    if threshold == 0.0 and negative_slope == 0.0:
        code = {None: "RELU", 6.0: "RELU6", 1.0: "RELU_0_TO_1"}.get(
            None if max_value is None else float(max_value))
        if code:
            return un(ctx, code, x)
        return bi(ctx, "MINIMUM", un(ctx, "RELU", x), scalar(ctx, max_value))
    if negative_slope and max_value is None and threshold == 0.0:
        return un(ctx, "LEAKY_RELU", x, options("LeakyReluOptions", alpha=negative_slope))
    y = select(ctx, bi(ctx, "GREATER", x, scalar(ctx, threshold), "bool"), x, _zero(ctx))
    if max_value is not None:
        y = bi(ctx, "MINIMUM", y, scalar(ctx, max_value))
    if negative_slope:
        below = un(ctx, "RELU", bi(ctx, "SUB", scalar(ctx, threshold), x))
        y = bi(ctx, "SUB", y, bi(ctx, "MUL", below, scalar(ctx, negative_slope)))
    return y


@lowering("LeakyRelu")
def _leaky(ctx, x, alpha=0.2):
    return un(ctx, "LEAKY_RELU", x, options("LeakyReluOptions", alpha=alpha))


def _elu(ctx, x, alpha):
    e = un(ctx, "ELU", x)
    if alpha == 1.0:
        return e
    return select(ctx, bi(ctx, "GREATER", x, _zero(ctx), "bool"), x,
                  bi(ctx, "MUL", e, scalar(ctx, alpha)))


@lowering("Elu")
def _elu_op(ctx, x, alpha=1.0):
    return _elu(ctx, x, alpha)


@lowering("Selu")
def _selu(ctx, x):
    return bi(ctx, "MUL", _elu(ctx, x, SELU_ALPHA), scalar(ctx, SELU_SCALE))


@lowering("Gelu")
def _gelu(ctx, x, approximate=False):
    return un(ctx, "GELU", x, options("GeluOptions", approximate=bool(approximate)))


@lowering("Sigmoid")
def _sigmoid(ctx, x):
    return un(ctx, "LOGISTIC", x)


@lowering("HardSigmoid")
def _hard_sigmoid(ctx, x, slope=1.0 / 6.0, offset=0.5):
    y = bi(ctx, "ADD", bi(ctx, "MUL", x, scalar(ctx, slope)), scalar(ctx, offset))
    return un(ctx, "RELU_0_TO_1", y)


@lowering("Silu")
def _silu(ctx, x):
    return bi(ctx, "MUL", x, un(ctx, "LOGISTIC", x))


@lowering("HardSilu")
def _hard_silu(ctx, x):
    return un(ctx, "HARD_SWISH", x)


def _log1p_exp_neg_abs(ctx, x):
    e = un(ctx, "EXP", un(ctx, "NEG", un(ctx, "ABS", x)))
    return un(ctx, "LOG", bi(ctx, "ADD", e, scalar(ctx, 1.0)))


@lowering("Softplus")
def _softplus(ctx, x):
    return bi(ctx, "ADD", un(ctx, "RELU", x), _log1p_exp_neg_abs(ctx, x))


@lowering("Mish")
def _mish(ctx, x):
    return bi(ctx, "MUL", x, un(ctx, "TANH", _softplus(ctx, x)))


@lowering("Softsign")
def _softsign(ctx, x):
    return bi(ctx, "DIV", x, bi(ctx, "ADD", un(ctx, "ABS", x), scalar(ctx, 1.0)))


@lowering("Tanh")
def _tanh(ctx, x):
    return un(ctx, "TANH", x)


@lowering("Exp")
def _exp(ctx, x):
    return un(ctx, "EXP", x)


@lowering("Celu")
def _celu(ctx, x, alpha=1.0):
    neg = bi(ctx, "DIV", bi(ctx, "MINIMUM", x, _zero(ctx)), scalar(ctx, alpha))
    return bi(ctx, "ADD", un(ctx, "RELU", x),
              bi(ctx, "MUL", un(ctx, "ELU", neg), scalar(ctx, alpha)))


@lowering("HardTanh")
def _hard_tanh(ctx, x):
    return un(ctx, "RELU_N1_TO_1", x)


@lowering("LogSigmoid")
def _log_sigmoid(ctx, x):
    return bi(ctx, "SUB", bi(ctx, "MINIMUM", x, _zero(ctx)), _log1p_exp_neg_abs(ctx, x))


@lowering("SparsePlus")
def _sparse_plus(ctx, x):
    r = un(ctx, "RELU", bi(ctx, "ADD", x, scalar(ctx, 1.0)))
    mid = bi(ctx, "MUL", bi(ctx, "MUL", r, r), scalar(ctx, 0.25))
    return select(ctx, bi(ctx, "GREATER_EQUAL", x, scalar(ctx, 1.0), "bool"), x, mid)


@lowering("SparseSigmoid")
def _sparse_sigmoid(ctx, x):
    y = bi(ctx, "MUL", bi(ctx, "ADD", x, scalar(ctx, 1.0)), scalar(ctx, 0.5))
    return un(ctx, "RELU_0_TO_1", y)


@lowering("Squareplus")
def _squareplus(ctx, x, b=4.0):
    root = un(ctx, "SQRT", bi(ctx, "ADD", bi(ctx, "MUL", x, x), scalar(ctx, b)))
    return bi(ctx, "MUL", bi(ctx, "ADD", x, root), scalar(ctx, 0.5))


@lowering("TanhShrink")
def _tanh_shrink(ctx, x):
    return bi(ctx, "SUB", x, un(ctx, "TANH", x))


@lowering("HardShrink")
def _hard_shrink(ctx, x, threshold=0.5):
    keep = bi(ctx, "GREATER", un(ctx, "ABS", x), scalar(ctx, threshold), "bool")
    return select(ctx, keep, x, _zero(ctx))


@lowering("SoftShrink")
def _soft_shrink(ctx, x, threshold=0.5):
    clipped = bi(ctx, "MINIMUM", bi(ctx, "MAXIMUM", x, scalar(ctx, -threshold)),
                 scalar(ctx, threshold))
    return bi(ctx, "SUB", x, clipped)


@lowering("Threshold")
def _threshold(ctx, x, threshold=0.0, default_value=0.0):
    keep = bi(ctx, "GREATER", x, scalar(ctx, threshold), "bool")
    return select(ctx, keep, x, scalar(ctx, default_value))


@emitter(*sorted(set(LOWERINGS) - {"Relu"}))
def activation(ctx: TFLiteContext, node: Node) -> None:
    """An activation op as its TFLite builtin or formula."""
    alias(ctx, node.outputs[0], lower(ctx, {"op": node.op, **node.attrs},
                                      read(ctx, node.inputs[0])))


@emitter("Relu")
def relu(ctx: TFLiteContext, node: Node) -> None:
    """Relu (its plain and Relu6 forms are usually fused into the producing op)."""
    activation(ctx, node)


@emitter("PRelu")
def prelu(ctx: TFLiteContext, node: Node) -> None:
    """PRELU with the alpha tensor (broadcast over the non-batch dims)."""
    x = read(ctx, node.inputs[0])
    alpha = read(ctx, node.inputs[1])
    alias(ctx, node.outputs[0], un(ctx, "PRELU", x, extra=[alpha]))


def _last_axis(ctx: TFLiteContext, node: Node, code: str, opts: Any) -> None:
    x = read(ctx, node.inputs[0])
    r = len(ctx.shape(node.inputs[0]))
    axis = node.attrs.get("axis", -1)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if len(axes) != 1:
        return _trailing_axes(ctx, node, x, sorted(a % r for a in axes), code, opts)
    ax = axes[0] % r
    if ax == r - 1:
        alias(ctx, node.outputs[0], un(ctx, code, x, opts))
        return
    perm = list(range(r))
    perm[ax], perm[-1] = perm[-1], perm[ax]
    shape = tshape(ctx, x)
    moved = temp(ctx, f"{node.outputs[0]}/moved", [shape[p] for p in perm])
    ctx.op("TRANSPOSE", [x, ints(ctx, perm, "perm")], [moved])
    y = un(ctx, code, moved, opts)
    back = un(ctx, "TRANSPOSE", y, extra=[ints(ctx, perm, "perm")])
    ctx.tensors[back].shape, ctx.tensors[back].signature = (
        list(ctx.tensors[x].shape), ctx.tensors[x].signature)
    alias(ctx, node.outputs[0], back)


def _trailing_axes(ctx: TFLiteContext, node: Node, x: int, axes: list[int], code: str,
                   opts: Any) -> None:
    """Over several trailing axes of known sizes: RESHAPE them into one, the op, RESHAPE back."""
    from kerasport.export.tflite.writer.conv import reshape

    shape = tshape(ctx, x)
    r = len(shape)
    if axes != list(range(r - len(axes), r)) or None in shape[r - len(axes):]:
        raise KerasportError(f"layer '{node.layer}': {node.op} over axes {axes} has no TFLite "
                             "form (several trailing axes of known sizes do)")
    merged = reshape(ctx, x, [*shape[:axes[0]], int(np.prod(shape[axes[0]:]))])
    alias(ctx, node.outputs[0], reshape(ctx, un(ctx, code, merged, opts), shape))


@emitter("Softmax")
def softmax(ctx: TFLiteContext, node: Node) -> None:
    """SOFTMAX (beta 1) over one axis (moved last by TRANSPOSE when it is not)."""
    _last_axis(ctx, node, "SOFTMAX", options("SoftmaxOptions", beta=1.0))


@emitter("LogSoftmax")
def log_softmax(ctx: TFLiteContext, node: Node) -> None:
    """LOG_SOFTMAX over one axis."""
    _last_axis(ctx, node, "LOG_SOFTMAX", options("LogSoftmaxOptions"))


@emitter("Glu")
def glu(ctx: TFLiteContext, node: Node) -> None:
    """a * sigmoid(b) over the halves of ``axis``: SPLIT, LOGISTIC, MUL."""
    x = read(ctx, node.inputs[0])
    r = len(ctx.shape(node.inputs[0]))
    ax = node.attrs.get("axis", -1) % r
    half = list(ctx.shape(node.outputs[0]))
    a = temp(ctx, f"{node.outputs[0]}/a", half)
    b = temp(ctx, f"{node.outputs[0]}/b", half)
    ctx.op("SPLIT", [ints(ctx, [ax], "axis"), x], [a, b], options("SplitOptions", numSplits=2))
    alias(ctx, node.outputs[0], bi(ctx, "MUL", a, un(ctx, "LOGISTIC", b)))

