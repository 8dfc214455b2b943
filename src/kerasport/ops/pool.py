"""Pooling kernels through strided window views; global pooling as reductions."""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import window_out
from kerasport.ops.conv import _tap_slices, pad_spatial, spatial_pads
from kerasport.ops.registry import Traits, op


def _pool(shapes, mode="max", pool_size=(2,), strides=(2,), padding="valid"):
    """(N, *S, C) -> (N, *O, C) with the window rule of Conv (dilation 1)."""
    x = shapes[0]
    if x is None:
        return [None]
    out = [window_out(x[1 + i], k, strides[i], 1, padding) for i, k in enumerate(pool_size)]
    return [(x[0], *out, x[-1])]


@op("Pool", shape=_pool)
def Pool(x, mode="max", pool_size=(2,), strides=(2,), padding="valid"):
    """Max or average pooling, channels-last. 'same' averages exclude the padding (as Keras).
    One pass per window tap over a strided slice (maximum or add into the output): several
    times faster than reducing a window view over its small window axes."""
    r = len(pool_size)
    pads = spatial_pads(x.shape[1:-1], pool_size, strides, (1,) * r, padding)
    padded = any(p != (0, 0) for p in pads)
    if mode == "max":
        return _tap_reduce(pad_spatial(x, pads, -np.inf), pool_size, strides, np.maximum)
    sizes = x.shape[1:-1]
    total = _tap_reduce(pad_spatial(x, pads), pool_size, strides, np.add)
    if not padded:
        return total / np.float32(np.prod(pool_size))
    count = pad_spatial(np.ones((1, *sizes, 1), x.dtype), pads)
    return total / _tap_reduce(count, pool_size, strides, np.add)


def _tap_reduce(x, ksize, strides, ufunc):
    """``ufunc`` (np.maximum or np.add) over every window of x (N, *S, C), one tap at a time
    into the output (N, *O, C)."""
    sizes = x.shape[1:-1]
    out = [(s - k) // st + 1 for s, k, st in zip(sizes, ksize, strides)]
    if min(out, default=1) < 1:
        raise ValueError(f"input of spatial size {tuple(sizes)} is smaller than the window")
    ones = (1,) * len(ksize)
    y = None
    for tap in np.ndindex(*ksize):
        part = x[(slice(None), *_tap_slices(tap, ones, strides, out))]
        if y is None:
            y = part.copy()
        else:
            ufunc(y, part, out=y)
    return y


def _reduce(shapes, mode="mean", axes=(1,), keepdims=False):
    """Reduced axes dropped, or kept as 1 with ``keepdims``."""
    x = shapes[0]
    if x is None:
        return [None]
    ax = {a % len(x) for a in axes}
    if keepdims:
        return [tuple(1 if i in ax else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in ax)]


@op("Reduce", shape=_reduce, traits=Traits(batch="axis_attrs"))
def Reduce(x, mode="mean", axes=(1,), keepdims=False):
    """Mean or max over ``axes`` (global pooling)."""
    fn = np.mean if mode == "mean" else np.max
    return fn(x, axis=tuple(axes), keepdims=keepdims).astype(x.dtype, copy=False)


def _arg(shapes, axis=0, keepdims=True, mode="max", last=False, dtype="int64"):
    """``axis`` dropped, or kept as 1 with ``keepdims``."""
    return _reduce(shapes, axes=(axis,), keepdims=keepdims)


@op("Arg", shape=_arg, traits=Traits(batch="axis_attrs"))
def Arg(x, axis=0, keepdims=True, mode="max", last=False, dtype="int64"):
    """Index of the largest (``mode`` max) or smallest value along ``axis``, the first one
    (or the last one with ``last``) among equals, as int64."""
    if last:
        x = np.flip(x, axis=axis)
    y = np.argmax(x, axis=axis) if mode == "max" else np.argmin(x, axis=axis)
    if last:
        y = x.shape[axis] - 1 - y
    y = y.astype(np.int64)
    return np.expand_dims(y, axis) if keepdims else y
