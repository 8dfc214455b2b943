"""Attention: the masked softmax (the products are MatMul and Einsum, in linalg).

Attention runs as np.matmul over (N, heads, T, d) arrays: no Python loop over heads or batch.
"""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import same_shape
from kerasport.ops.registry import Traits, op


def _expand(mask, ndim, expand_axis):
    """``mask`` with new axes inserted at ``expand_axis`` until it has ``ndim`` axes."""
    while mask.ndim < ndim:
        mask = np.expand_dims(mask, expand_axis)
    return mask


def _structural(t, s, causal, window):
    """The (t, s) boolean mask of the causal triangle and the window band (None if neither)."""
    keep = None
    if causal:
        keep = np.tri(t, s, dtype=bool)
    if window:
        band = np.abs(np.arange(t)[:, None] - np.arange(s)[None, :]) < window
        keep = band if keep is None else keep & band
    return keep


@op("MaskedSoftmax", shape=same_shape, traits=Traits(batch="axis_attrs"))
def MaskedSoftmax(x, mask=None, axes=(-1,), causal=False, window=0, fill=-1e9, additive=False,
                  zero_masked=False, expand_axis=1):
    """Softmax over ``axes`` of attention scores with masked positions pushed down.

    The mask gets new axes at ``expand_axis`` until it has x's rank, then broadcasts; with
    ``causal`` only the lower triangle of the last two axes (j <= i) is kept, with ``window``
    the band |i - j| < window. Kept positions: mask != 0. Masked scores become ``fill``, or with
    ``additive`` the scores get ``(1 - mask) * fill`` added (Keras 2, and Keras' Attention
    layer; the mask used as given, as Keras 2 does). ``zero_masked`` sets the probabilities of
    masked positions to 0 afterwards (Keras 3's Softmax layer).
    """
    keep = None if mask is None else _expand(mask, x.ndim, expand_axis)
    band = _structural(x.shape[-2], x.shape[-1], causal, window)
    if additive and (keep is not None or band is not None):
        m = np.float32(1.0) if keep is None else keep.astype(x.dtype, copy=False)
        if band is not None:
            m = m * band
        x = x + (np.float32(1.0) - m) * np.float32(fill)
    if keep is not None:
        keep = keep != 0
    if band is not None:
        keep = band if keep is None else keep & band
    if keep is not None and not additive:
        x = np.where(keep, x, np.float32(fill)).astype(x.dtype, copy=False)
    ax = tuple(axes)
    e = x - np.max(x, axis=ax, keepdims=True)  # a new array: the steps below work in place
    np.exp(e, out=e)
    e /= np.sum(e, axis=ax, keepdims=True)
    if keep is not None and zero_masked:
        e *= keep
    return e
