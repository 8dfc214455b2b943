"""Kernels that move data without arithmetic: reshape, transpose, pad, crop, concatenate."""

from __future__ import annotations

import numpy as np

from kerasport.ir.ops import kernel


@kernel("Reshape")
def Reshape(x, shape=(-1,)):
    """Reshape the non-batch dims to ``shape`` (may hold one -1)."""
    return x.reshape((x.shape[0], *shape))


@kernel("Flatten")
def Flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return x.reshape((x.shape[0], -1))


@kernel("Transpose")
def Transpose(x, perm=(0,)):
    """Permute all axes (batch included) by ``perm``; returns a contiguous array."""
    return np.ascontiguousarray(np.transpose(x, perm))


@kernel("Pad")
def Pad(x, pads=((0, 0),), value=0.0):
    """Constant padding; ``pads`` holds (before, after) for every axis, batch included."""
    return np.pad(x, [tuple(p) for p in pads], constant_values=value)


@kernel("Crop")
def Crop(x, crops=((0, 0),)):
    """Remove (before, after) elements on every axis, batch included."""
    return x[tuple(slice(b, x.shape[i] - a) for i, (b, a) in enumerate(crops))]


@kernel("Concat")
def Concat(*xs, axis=-1):
    """Concatenate the inputs along ``axis``."""
    return np.concatenate(xs, axis=axis)


@kernel("Gather")
def Gather(table, indices):
    """Rows of ``table`` at integer ``indices`` (Embedding)."""
    return np.take(table, indices, axis=0)


@kernel("Reverse")
def Reverse(x, axis=1):
    """x reversed along ``axis``."""
    return np.flip(x, axis=axis)


@kernel("FoldTime")
def FoldTime(x):
    """(N, T, ...) -> (N*T, ...)."""
    return x.reshape((-1, *x.shape[2:]))


@kernel("UnfoldTime")
def UnfoldTime(y, like):
    """(N*T, ...) -> (N, T, ...), N and T from ``like``."""
    return y.reshape((like.shape[0], like.shape[1], *y.shape[1:]))
