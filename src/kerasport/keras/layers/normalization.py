"""Normalization layers: BatchNormalization (folded into one multiply-add), Layer-, Group-,
Unit- and RMSNormalization."""

from __future__ import annotations

import numpy as np

from kerasport.keras.registry import LayerContext, register_converter


@register_converter("BatchNormalization", mask="pass")
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


def _axes(ctx: LayerContext, x: str, default=-1) -> tuple[list[int], tuple[int, ...], list[int]]:
    """Normalised axes, their sizes, and the broadcast shape of per-axis parameters."""
    shape = ctx.shape(x)
    rank = ctx.rank(x)
    axis = ctx.config.get("axis", default)
    axes = sorted({int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])})
    ctx.require(0 not in axes, "axis", "normalising over the batch axis is not supported")
    dims = tuple(shape[a] for a in axes)
    bshape = [1] * rank
    for a, d in zip(axes, dims):
        bshape[a] = d
    return axes, dims, bshape


@register_converter("LayerNormalization", mask="pass")
def convert_layer_norm(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """LayerNormalization(axis, epsilon, center, scale, rms_scaling)."""
    cfg = ctx.config
    axes, dims, bshape = _axes(ctx, inputs[0])
    ctx.require(None not in dims, "axis", "the normalised axes must have a known size")
    rms = bool(cfg.get("rms_scaling", False))  # Keras creates no beta then
    names = (["gamma"] if cfg.get("scale", True) or rms else []) + (
        ["beta"] if cfg.get("center", True) and not rms else [])
    params = dict(zip(names, ctx.weights_as(names, [dims] * len(names))))
    args = [inputs[0]]
    for name in ("gamma", "beta"):
        if name in params:
            args.append(ctx.const(name, params[name].reshape(bshape)))
    # LayerNorm(x, gamma=None, beta=None): pass beta by position only if gamma exists.
    if "beta" in params and "gamma" not in params:
        args.insert(1, ctx.const("gamma", np.ones(bshape, np.float32)))
    return [ctx.op("LayerNorm", args, axes=axes, epsilon=float(cfg.get("epsilon", 1e-3)),
                   rms_scaling=rms)]


@register_converter("GroupNormalization", mask="drop")
def convert_group_norm(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """GroupNormalization(groups, epsilon, center, scale) over the last axis."""
    cfg = ctx.config
    rank = ctx.rank(inputs[0])
    ctx.require(int(cfg.get("axis", -1)) % rank == rank - 1, "axis",
                "only the channels-last axis (-1) is supported",
                "keep channels last (the Keras default) and use axis=-1")
    c = ctx.shape(inputs[0])[-1]
    groups = int(cfg.get("groups", 32))
    groups = c if groups == -1 else groups
    names = (["gamma"] if cfg.get("scale", True) else []) + (
        ["beta"] if cfg.get("center", True) else [])
    params = dict(zip(names, ctx.weights_as(names, [(c,)] * len(names))))
    gamma = params.get("gamma", np.ones(c, np.float32))
    args = [inputs[0], ctx.const("gamma", gamma)]
    if "beta" in params:
        args.append(ctx.const("beta", params["beta"]))
    return [ctx.op("GroupNorm", args, groups=groups, epsilon=float(cfg.get("epsilon", 1e-3)))]


@register_converter("UnitNormalization", mask="pass")
def convert_unit_norm(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """UnitNormalization(axis): x / max(||x||, eps); Keras 2 clamped the squared norm."""
    axes, _, _ = _axes(ctx, inputs[0])
    return [ctx.op("L2Normalize", [inputs[0]], axes=axes,
                   epsilon=1e-12 if ctx.keras_major >= 3 else 1e-6)]


@register_converter("RMSNormalization", mask="pass")
def convert_rms_norm(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """RMSNormalization(axis, epsilon): x / sqrt(mean(x^2) + eps) * scale."""
    axes, dims, bshape = _axes(ctx, inputs[0])
    (scale,) = ctx.weights_as(["scale"], [dims])
    return [ctx.op("RmsNorm", [inputs[0], ctx.const("scale", scale.reshape(bshape))], axes=axes,
                   epsilon=float(ctx.config.get("epsilon", 1e-6)))]
