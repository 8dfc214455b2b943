"""Keras masks: made by Embedding(mask_zero=True) and Masking, used by RNNs and pooling.

A mask is a float32 (N, T) array of 1.0 (keep) and 0.0 (masked timestep).
"""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import broadcast, same_shape
from kerasport.ops.registry import Traits, op


def _mask_not_equal(shapes, axis=None, **_):
    """x -> x's shape, without ``axis`` when given."""
    x = shapes[0]
    if x is None or axis is None:
        return [x]
    ax = axis % len(x)
    return [tuple(d for i, d in enumerate(x) if i != ax)]


@op("MaskNotEqual", shape=_mask_not_equal, traits=Traits(batch="axis_attrs", keeps_time_axis=True))
def MaskNotEqual(x, value=0.0, axis=None, dtype="float32"):
    """1 where ``x != value``; with ``axis``, 1 where any element along it differs."""
    m = x != value
    if axis is not None:
        m = m.any(axis=axis)
    return m.astype(dtype)


@op("ApplyMask", shape=same_shape, traits=Traits(keeps_time_axis=True))
def ApplyMask(x, mask):
    """``x`` with its masked timesteps set to zero (Masking)."""
    return x * mask[..., None].astype(x.dtype, copy=False)


def _masked_mean(shapes, keepdims=False):
    """(N, T, ...) -> (N, ...), or (N, 1, ...) with keepdims."""
    x = shapes[0]
    if x is None:
        return [None]
    return [(x[0], 1, *x[2:]) if keepdims else (x[0], *x[2:])]


@op("MaskedMean", shape=_masked_mean)
def MaskedMean(x, mask, keepdims=False):
    """Mean over axis 1 of the unmasked timesteps (GlobalAveragePooling1D with a mask)."""
    m = mask[..., None].astype(x.dtype, copy=False)
    return np.sum(x * m, axis=1, keepdims=keepdims) / np.sum(m, axis=1, keepdims=keepdims)


def _mask_reduce(shapes, axis=None, keepdims=False, **_):
    """Like a reduction over ``axis`` (every axis if None)."""
    x = shapes[0]
    if x is None:
        return [None]
    axes = range(len(x)) if axis is None else [axis % len(x)]
    if keepdims:
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


@op("MaskReduce", shape=_mask_reduce, traits=Traits(batch="axis_attrs"))
def MaskReduce(x, mode="any", axis=None, keepdims=False):
    """1 where any (``mode="any"``) or all (``"all"``) of ``x != 0`` along ``axis``."""
    fn = np.any if mode == "any" else np.all
    return fn(x != 0, axis=axis, keepdims=keepdims).astype(np.float32)


def _mask_logical(shapes, mode="and"):
    """Broadcast of the operands."""
    if mode == "not" or len(shapes) < 2 or shapes[1] is None:
        return [shapes[0]]
    if shapes[0] is None:
        return [None]
    return [broadcast(shapes[0], shapes[1])]


@op("MaskLogical", shape=_mask_logical, traits=Traits(keeps_time_axis=True))
def MaskLogical(a, b=None, mode="and"):
    """Logical "and", "or" or "not" (of ``a`` alone) of 0/1 tensors, as 0/1 float32."""
    if mode == "not":
        return (a == 0).astype(np.float32)
    fn = np.logical_and if mode == "and" else np.logical_or
    return fn(a != 0, b != 0).astype(np.float32)


@op("Fill", shape=same_shape)
def Fill(x, value=0.0, dtype="float32"):
    """An array of ``x``'s shape filled with ``value`` (zeros_like / ones_like)."""
    return np.full(x.shape, value, dtype=dtype)
