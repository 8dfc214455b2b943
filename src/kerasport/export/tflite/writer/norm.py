"""Normalizations as formulas of builtins (TFLite has no layer-norm operator): MEAN, SUB,
MUL, ADD, RSQRT; L2Normalize with SUM and MAXIMUM; GroupNorm over a RESHAPE to groups."""

from __future__ import annotations

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import reshape
from kerasport.export.tflite.writer.helpers import (
    alias,
    bi,
    ints,
    options,
    read,
    scalar,
    temp,
    tshape,
    un,
)
from kerasport.ir.graph import Node


def reduce_keep(ctx: TFLiteContext, code: str, x: int, axes: list[int]) -> int:
    """``code`` (MEAN, SUM ...) of ``x`` over ``axes``, kept as size 1."""
    shape = tshape(ctx, x)
    out = temp(ctx, f"{ctx.tensors[x].name}/{code.lower()}",
               [1 if i in axes else d for i, d in enumerate(shape)])
    ctx.op(code, [x, ints(ctx, axes, "axes")], [out], options("ReducerOptions", keepDims=True))
    return out


def _axes(ctx: TFLiteContext, node: Node) -> list[int]:
    r = len(ctx.shape(node.inputs[0]))
    return sorted(a % r for a in node.attrs.get("axes", (-1,)))


def _opt(ctx: TFLiteContext, node: Node, i: int) -> int | None:
    return read(ctx, node.inputs[i]) if len(node.inputs) > i and node.inputs[i] else None


def normalize(ctx: TFLiteContext, x: int, axes: list[int], epsilon: float) -> int:
    """(x - mean) / sqrt(var + eps) over ``axes``."""
    d = bi(ctx, "SUB", x, reduce_keep(ctx, "MEAN", x, axes))
    var = reduce_keep(ctx, "MEAN", bi(ctx, "MUL", d, d), axes)
    inv = un(ctx, "RSQRT", bi(ctx, "ADD", var, scalar(ctx, epsilon)))
    return bi(ctx, "MUL", d, inv)


@emitter("LayerNorm")
def layer_norm(ctx: TFLiteContext, node: Node) -> None:
    """Keras LayerNormalization (rms_scaling: x / sqrt(var + eps) * gamma)."""
    x = read(ctx, node.inputs[0])
    axes, eps = _axes(ctx, node), float(node.attrs.get("epsilon", 1e-3))
    gamma, beta = _opt(ctx, node, 1), _opt(ctx, node, 2)
    if node.attrs.get("rms_scaling"):
        d = bi(ctx, "SUB", x, reduce_keep(ctx, "MEAN", x, axes))
        var = reduce_keep(ctx, "MEAN", bi(ctx, "MUL", d, d), axes)
        y = bi(ctx, "MUL", x, un(ctx, "RSQRT", bi(ctx, "ADD", var, scalar(ctx, eps))))
        beta = None
    else:
        y = normalize(ctx, x, axes, eps)
    if gamma is not None:
        y = bi(ctx, "MUL", y, gamma)
    if beta is not None:
        y = bi(ctx, "ADD", y, beta)
    alias(ctx, node.outputs[0], y)


@emitter("RmsNorm")
def rms_norm(ctx: TFLiteContext, node: Node) -> None:
    """x / sqrt(mean(x^2) + eps) * scale."""
    x = read(ctx, node.inputs[0])
    ms = reduce_keep(ctx, "MEAN", bi(ctx, "MUL", x, x), _axes(ctx, node))
    eps = scalar(ctx, float(node.attrs.get("epsilon", 1e-6)))
    y = bi(ctx, "MUL", x, un(ctx, "RSQRT", bi(ctx, "ADD", ms, eps)))
    scale = _opt(ctx, node, 1)
    alias(ctx, node.outputs[0], y if scale is None else bi(ctx, "MUL", y, scale))


@emitter("L2Normalize")
def l2_normalize(ctx: TFLiteContext, node: Node) -> None:
    """x / max(sqrt(sum(x^2)), eps)."""
    x = read(ctx, node.inputs[0])
    norm = un(ctx, "SQRT", reduce_keep(ctx, "SUM", bi(ctx, "MUL", x, x), _axes(ctx, node)))
    eps = scalar(ctx, float(node.attrs.get("epsilon", 1e-12)))
    alias(ctx, node.outputs[0], bi(ctx, "DIV", x, bi(ctx, "MAXIMUM", norm, eps)))


@emitter("GroupNorm")
def group_norm(ctx: TFLiteContext, node: Node) -> None:
    """RESHAPE (N, *S, C) -> (N, *S, G, C/G), normalize over the spatial axes and C/G,
    RESHAPE back, then gamma and beta."""
    x = read(ctx, node.inputs[0])
    shape = list(ctx.shape(node.inputs[0]))
    groups = int(node.attrs.get("groups", 32))
    if None in shape[1:]:
        raise KerasportError(f"layer '{node.layer}': GroupNormalization needs known spatial "
                             "sizes in TFLite")
    grouped = reshape(ctx, x, [shape[0], *shape[1:-1], groups, shape[-1] // groups])
    r = len(shape) + 1
    axes = [*range(1, r - 2), r - 1]
    y = normalize(ctx, grouped, axes, float(node.attrs.get("epsilon", 1e-3)))
    y = reshape(ctx, y, shape)
    gamma, beta = _opt(ctx, node, 1), _opt(ctx, node, 2)
    if gamma is not None:
        y = bi(ctx, "MUL", y, gamma)
    if beta is not None:
        y = bi(ctx, "ADD", y, beta)
    alias(ctx, node.outputs[0], y)
