"""Keras masks: made by Embedding(mask_zero=True) and Masking, used by RNNs and pooling.

A mask is a float32 (N, T) array of 1.0 (keep) and 0.0 (masked timestep).
"""

from __future__ import annotations

import numpy as np

from kerasport.ir.ops import kernel


@kernel("MaskNotEqual")
def MaskNotEqual(x, value=0.0, axis=None, dtype="float32"):
    """1 where ``x != value``; with ``axis``, 1 where any element along it differs."""
    m = x != value
    if axis is not None:
        m = m.any(axis=axis)
    return m.astype(dtype)


@kernel("ApplyMask")
def ApplyMask(x, mask):
    """``x`` with its masked timesteps set to zero (Masking)."""
    return x * mask[..., None].astype(x.dtype, copy=False)


@kernel("MaskedMean")
def MaskedMean(x, mask, keepdims=False):
    """Mean over axis 1 of the unmasked timesteps (GlobalAveragePooling1D with a mask)."""
    m = mask[..., None].astype(x.dtype, copy=False)
    return np.sum(x * m, axis=1, keepdims=keepdims) / np.sum(m, axis=1, keepdims=keepdims)


@kernel("MaskReduce")
def MaskReduce(x, mode="any", axis=None, keepdims=False):
    """1 where any (``mode="any"``) or all (``"all"``) of ``x != 0`` along ``axis``."""
    fn = np.any if mode == "any" else np.all
    return fn(x != 0, axis=axis, keepdims=keepdims).astype(np.float32)


@kernel("MaskLogical")
def MaskLogical(a, b=None, mode="and"):
    """Logical "and", "or" or "not" (of ``a`` alone) of 0/1 tensors, as 0/1 float32."""
    if mode == "not":
        return (a == 0).astype(np.float32)
    fn = np.logical_and if mode == "and" else np.logical_or
    return fn(a != 0, b != 0).astype(np.float32)


@kernel("ExpandDims")
def ExpandDims(x, axis=-1):
    """``x`` with a new axis of size 1 at ``axis``."""
    return np.expand_dims(x, axis)


@kernel("Fill")
def Fill(x, value=0.0, dtype="float32"):
    """An array of ``x``'s shape filled with ``value`` (zeros_like / ones_like)."""
    return np.full(x.shape, value, dtype=dtype)
