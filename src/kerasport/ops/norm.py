"""Normalization kernels computed from the input: layer, group, unit and RMS normalization."""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import same_shape
from kerasport.ops.registry import UNARY, Traits, op


@op("LayerNorm", shape=same_shape, traits=Traits(unary=True, batch="axis_attrs"))
def LayerNorm(x, gamma=None, beta=None, axes=(-1,), epsilon=1e-3, rms_scaling=False):
    """Keras' layer_normalization: x * inv + (beta - mean * inv), inv = gamma / sqrt(var + eps)
    over ``axes``; rms_scaling (deprecated in Keras) scales by the variance and gamma only."""
    ax = tuple(axes)
    if ax in ((-1,), (x.ndim - 1,)) and x.shape[-1] > 0 and x.dtype.kind == "f":
        # the last axis only: means as products with a vector of 1/n (much faster than
        # numpy's reductions along a short last axis)
        avg = np.full(x.shape[-1], 1.0 / x.shape[-1], x.dtype)
        mean = (x @ avg)[..., None]
        d = x - mean
        var = (np.square(d) @ avg)[..., None]
    else:
        var = np.var(x, axis=ax, keepdims=True)
        mean = np.mean(x, axis=ax, keepdims=True)
    inv = 1.0 / np.sqrt(var + np.float32(epsilon))
    if rms_scaling:
        y = x * inv
        return y * gamma if gamma is not None else y
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv
    if beta is not None:
        shift = shift + beta
    return (x * inv + shift).astype(x.dtype, copy=False)


@op("GroupNorm", shape=same_shape, traits=UNARY)
def GroupNorm(x, gamma=None, beta=None, groups=32, epsilon=1e-3):
    """Channels-last group normalization: statistics over the spatial axes and the channels of
    each group, then per-channel gamma and beta."""
    n, *sizes, c = x.shape
    g = x.reshape(n, *sizes, groups, c // groups)
    axes = (*range(1, 1 + len(sizes)), len(sizes) + 2)
    mean = np.mean(g, axis=axes, keepdims=True)
    var = np.var(g, axis=axes, keepdims=True)
    y = ((g - mean) / np.sqrt(var + np.float32(epsilon))).reshape(x.shape)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y.astype(x.dtype, copy=False)


@op("L2Normalize", shape=same_shape, traits=Traits(unary=True, batch="axis_attrs"))
def L2Normalize(x, axes=(-1,), epsilon=1e-12):
    """x / max(sqrt(sum(x^2 over axes)), epsilon)."""
    norm = np.sqrt(np.sum(np.square(x), axis=tuple(axes), keepdims=True))
    return (x / np.maximum(norm, np.float32(epsilon))).astype(x.dtype, copy=False)


@op("RmsNorm", shape=same_shape, traits=Traits(unary=True, batch="axis_attrs"))
def RmsNorm(x, scale=None, axes=(-1,), epsilon=1e-6):
    """x / sqrt(mean(x^2 over axes) + epsilon) * scale."""
    ms = np.mean(np.square(x), axis=tuple(axes), keepdims=True)
    y = x / np.sqrt(ms + np.float32(epsilon))
    return (y * scale if scale is not None else y).astype(x.dtype, copy=False)
