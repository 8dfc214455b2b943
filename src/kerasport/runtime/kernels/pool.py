"""Pooling kernels through strided window views; global pooling as reductions."""

from __future__ import annotations

import numpy as np

from kerasport.ir.ops import kernel
from kerasport.runtime.kernels.conv import pad_spatial, spatial_pads, windows


@kernel("Pool")
def Pool(x, mode="max", pool_size=(2,), strides=(2,), padding="valid"):
    """Max or average pooling, channels-last. 'same' averages exclude the padding (as Keras)."""
    r = len(pool_size)
    ones = (1,) * r
    pads = spatial_pads(x.shape[1:-1], pool_size, strides, ones, padding)
    padded = any(p != (0, 0) for p in pads)
    axes = tuple(range(1 + r, 1 + 2 * r))
    if mode == "max":
        x = pad_spatial(x, pads, -np.inf)
        return windows(x, pool_size, strides, ones).max(axis=axes)
    sizes = x.shape[1:-1]
    x = pad_spatial(x, pads)
    total = windows(x, pool_size, strides, ones).sum(axis=axes)
    if not padded:
        return total / np.float32(np.prod(pool_size))
    count = pad_spatial(np.ones((1, *sizes, 1), x.dtype), pads)
    return total / windows(count, pool_size, strides, ones).sum(axis=axes)


@kernel("Reduce")
def Reduce(x, mode="mean", axes=(1,), keepdims=False):
    """Mean or max over ``axes`` (global pooling)."""
    fn = np.mean if mode == "mean" else np.max
    return fn(x, axis=tuple(axes), keepdims=keepdims).astype(x.dtype, copy=False)
