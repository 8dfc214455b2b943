"""BatchNormalization (folded into a per-channel Affine, channels last), LayerNormalization and
InstanceNormalization."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported, channels_last
from kerasport.onnx_reader.helpers import optional, out
from kerasport.onnx_reader.registry import converter


def _channels_last_perm(ctx: ReadContext, x: str) -> tuple[int, ...]:
    rank = ctx.rank(x)
    if rank is None or rank < 2:
        raise Unsupported("needs an input of rank >= 2")
    perm = ctx.perm(x)
    return perm if perm[-1] == 1 else channels_last(rank)


def _extra_outputs(node: Any) -> None:
    if any(o for o in node.output[1:]):
        raise Unsupported("only the first output (inference) is supported")


@converter("BatchNormalization")
def batch_norm(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Inference BatchNormalization -> Affine(scale, shift) over the channel axis (held last);
    a Conv before it absorbs it when the graph is optimized."""
    _extra_outputs(node)
    x = node.input[0]
    gamma, beta, mean, var = (np.asarray(ctx.const(n, what), np.float64) for n, what in zip(
        node.input[1:5], ("scale", "B", "mean", "var")))
    scale = gamma / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
    shift = beta - mean * scale
    perm = _channels_last_perm(ctx, x)
    ins = [ctx.ir(x, perm), ctx.ir_const(f"{ctx.layer}/scale", scale.astype(np.float32)),
           ctx.ir_const(f"{ctx.layer}/shift", shift.astype(np.float32))]
    ctx.set(out(node), ctx.op("Affine", ins, out(node)), perm)


def _statistics(ctx: ReadContext, node: Any, axes: list[int], epsilon: float) -> None:
    """LayerNormalization's optional outputs: the mean and 1 / sqrt(var + epsilon), with the
    normalized axes kept as 1."""
    x, name = ctx.ir(node.input[0]), node.output[0]
    attrs = {"mode": "mean", "axes": axes, "keepdims": True}
    mean = ctx.op("Reduce", [x], f"{name}/mean", attrs)
    d = ctx.op("Sub", [x, mean], f"{name}/centered")
    var = ctx.op("Reduce", [ctx.op("Mul", [d, d], f"{name}/square")], f"{name}/var", attrs)
    eps = ctx.ir_const(f"{ctx.layer}/epsilon", np.asarray(epsilon, np.float32))
    root = ctx.op("Math", [ctx.op("Add", [var, eps], f"{name}/var_eps")], f"{name}/std",
                  {"fn": "sqrt"})
    if len(node.output) > 1 and node.output[1]:
        ctx.set(node.output[1], mean)
    if len(node.output) > 2 and node.output[2]:
        ctx.set(node.output[2], ctx.op("Math", [root], node.output[2], {"fn": "reciprocal"}))


@converter("LayerNormalization")
def layer_norm(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """LayerNormalization over axes axis.. -> IR LayerNorm (in ONNX order)."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axis = int(attrs.get("axis", -1)) % rank
    gamma = np.asarray(ctx.const(node.input[1], "Scale"), np.float32)
    ins = [ctx.ir(x), ctx.ir_const(f"{ctx.layer}/gamma", gamma)]
    b = optional(node, 2)
    if b:
        ins.append(ctx.ir_const(f"{ctx.layer}/beta",
                                np.asarray(ctx.const(b, "B"), np.float32)))
    y = ctx.op("LayerNorm", ins, out(node), {"axes": list(range(axis, rank)),
                                             "epsilon": float(attrs.get("epsilon", 1e-5))})
    ctx.set(out(node), y)
    if any(node.output[1:]):
        _statistics(ctx, node, list(range(axis, rank)), float(attrs.get("epsilon", 1e-5)))


@converter("InstanceNormalization")
def instance_norm(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """InstanceNormalization -> IR GroupNorm with one group per channel, channels last."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None or rank < 3:
        raise Unsupported("needs an input of rank >= 3")
    gamma = np.asarray(ctx.const(node.input[1], "scale"), np.float32)
    beta = np.asarray(ctx.const(node.input[2], "B"), np.float32)
    perm = channels_last(rank)
    ins = [ctx.ir(x, perm), ctx.ir_const(f"{ctx.layer}/gamma", gamma),
           ctx.ir_const(f"{ctx.layer}/beta", beta)]
    y = ctx.op("GroupNorm", ins, out(node), {"groups": int(gamma.size),
                                             "epsilon": float(attrs.get("epsilon", 1e-5))})
    ctx.set(out(node), y, perm)


@converter("RMSNormalization")
def rms_norm(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """RMSNormalization over axes axis.. -> IR RmsNorm (in ONNX order)."""
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axis = int(attrs.get("axis", -1)) % rank
    scale = np.asarray(ctx.const(node.input[1], "scale"), np.float32)
    y = ctx.op("RmsNorm", [ctx.ir(x), ctx.ir_const(f"{ctx.layer}/scale", scale)], out(node),
               {"axes": list(range(axis, rank)), "epsilon": float(attrs.get("epsilon", 1e-5))})
    ctx.set(out(node), y)


@converter("LpNormalization")
def lp_norm(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """LpNormalization with p = 2 -> IR L2Normalize over the axis (a zero vector stays 0)."""
    if int(attrs.get("p", 2)) != 2:
        raise Unsupported(f"p = {attrs['p']} (only 2)")
    x = node.input[0]
    rank = ctx.rank(x)
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axis = int(attrs.get("axis", -1)) % rank
    perm = ctx.perm(x)
    y = ctx.op("L2Normalize", [ctx.ir(x, perm)], out(node), {"axes": [perm.index(axis)],
                                                             "epsilon": 1e-30})
    ctx.set(out(node), y, perm)
