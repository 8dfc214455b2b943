"""Normalization layers: BatchNormalization, folded into one multiply-add."""

from __future__ import annotations

import numpy as np

from kerasport.keras.registry import LayerContext, register_converter


@register_converter("BatchNormalization")
def convert_batch_norm(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Inference BN: x * gamma / sqrt(var + eps) + (beta - mean * gamma / sqrt(var + eps))."""
    cfg = ctx.config
    shape = ctx.shape(inputs[0])
    rank = ctx.rank(inputs[0])
    axis = cfg.get("axis", -1)
    axes = sorted({int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])})
    ctx.require(0 not in axes, "axis", "normalising over the batch axis is not supported")
    dims = tuple(shape[a] for a in axes)
    ctx.require(None not in dims, "axis", "the normalised axes must have a known size")
    names = (["gamma"] if cfg.get("scale", True) else []) + (
        ["beta"] if cfg.get("center", True) else []) + ["moving_mean", "moving_variance"]
    params = dict(zip(names, ctx.weights_as(names, [dims] * len(names))))
    eps = float(cfg.get("epsilon", 1e-3))
    inv = 1.0 / np.sqrt(params["moving_variance"].astype(np.float64) + eps)
    scale = inv * params.get("gamma", 1.0)
    shift = params.get("beta", 0.0) - params["moving_mean"] * scale
    bshape = [1] * rank
    for a, d in zip(axes, dims):
        bshape[a] = d
    return [ctx.op("Affine", [inputs[0], ctx.const("scale", scale.reshape(bshape)),
                              ctx.const("shift", shift.reshape(bshape))])]
