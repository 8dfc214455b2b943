"""Kernels that move data without arithmetic: reshape, transpose, pad, crop, concatenate."""

from __future__ import annotations

import math

import numpy as np

from kerasport.ops.common import broadcast, same_shape
from kerasport.ops.registry import Traits, op


def _reshape(shapes, shape=(-1,)):
    """(N, ...) -> (N, *shape), the -1 resolved when the input size is known."""
    x = shapes[0]
    dims = list(shape)
    if -1 in dims:
        known = None if x is None or None in x[1:] else math.prod(x[1:])
        rest = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = None if known is None or rest == 0 else known // rest
    return [(None if x is None else x[0], *dims)]


@op("Reshape", shape=_reshape)
def Reshape(x, shape=(-1,)):
    """Reshape the non-batch dims to ``shape`` (may hold one -1)."""
    return x.reshape((x.shape[0], *shape))


def _flatten(shapes):
    """(N, ...) -> (N, prod(...))."""
    x = shapes[0]
    if x is None:
        return [None]
    return [(x[0], None if None in x[1:] else math.prod(x[1:]))]


@op("Flatten", shape=_flatten)
def Flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return x.reshape((x.shape[0], -1))


def _transpose(shapes, perm=(0,)):
    """Dims reordered by ``perm``."""
    x = shapes[0]
    return [None if x is None else tuple(x[p] for p in perm)]


@op("Transpose", shape=_transpose, traits=Traits(batch="axis_attrs"))
def Transpose(x, perm=(0,)):
    """Permute all axes (batch included) by ``perm``; returns a contiguous array."""
    return np.ascontiguousarray(np.transpose(x, perm))


def _pad(shapes, pads=((0, 0),), value=0.0):
    """Each dim grows by before + after."""
    x = shapes[0]
    if x is None:
        return [None]
    return [tuple(None if d is None else d + b + a for d, (b, a) in zip(x, pads))]


@op("Pad", shape=_pad, traits=Traits(batch="axis_attrs"))
def Pad(x, pads=((0, 0),), value=0.0):
    """Constant padding; ``pads`` holds (before, after) for every axis, batch included."""
    return np.pad(x, [tuple(p) for p in pads], constant_values=value)


def _crop(shapes, crops=((0, 0),)):
    """Each dim shrinks by before + after."""
    x = shapes[0]
    if x is None:
        return [None]
    return [tuple(None if d is None else d - b - a for d, (b, a) in zip(x, crops))]


@op("Crop", shape=_crop, traits=Traits(batch="axis_attrs"))
def Crop(x, crops=((0, 0),)):
    """Remove (before, after) elements on every axis, batch included."""
    return x[tuple(slice(b, x.shape[i] - a) for i, (b, a) in enumerate(crops))]


def _concat(shapes, axis=-1):
    """Sizes along ``axis`` add up; the other dims are broadcast."""
    if any(s is None for s in shapes):
        return [None]
    rank = len(shapes[0])
    ax = axis % rank
    sizes = [s[ax] for s in shapes]
    total = None if None in sizes else sum(sizes)
    others = [tuple(d for i, d in enumerate(s) if i != ax) for s in shapes]
    merged = list(broadcast(*others))
    merged.insert(ax, total)
    return [tuple(merged)]


@op("Concat", shape=_concat, traits=Traits(batch="axis_attrs"))
def Concat(*xs, axis=-1):
    """Concatenate the inputs along ``axis``."""
    return np.concatenate(xs, axis=axis)


def _gather(shapes):
    """table (V, D), indices (...) -> (..., D)."""
    table, idx = shapes
    return [None if idx is None else (*idx, *table[1:])]


@op("Gather", shape=_gather, traits=Traits(batch="table", keeps_time_axis=True))
def Gather(table, indices):
    """Rows of ``table`` at integer ``indices`` (Embedding)."""
    return np.take(table, indices, axis=0)


@op("Reverse", shape=same_shape, traits=Traits(batch="axis_attrs", keeps_time_axis=True))
def Reverse(x, axis=1):
    """x reversed along ``axis``."""
    return np.flip(x, axis=axis)


def _fold_time(shapes):
    """(N, T, ...) -> (None, ...)."""
    x = shapes[0]
    return [None if x is None else (None, *x[2:])]


@op("FoldTime", shape=_fold_time)
def FoldTime(x):
    """(N, T, ...) -> (N*T, ...)."""
    return x.reshape((-1, *x.shape[2:]))


def _unfold_time(shapes):
    """y (M, ...), like (N, T, ...) -> (N, T, ...y)."""
    y, like = shapes
    return [None if y is None or like is None else (like[0], like[1], *y[1:])]


@op("UnfoldTime", shape=_unfold_time)
def UnfoldTime(y, like):
    """(N*T, ...) -> (N, T, ...), N and T from ``like``."""
    return y.reshape((like.shape[0], like.shape[1], *y.shape[1:]))


def _expand_dims(shapes, axis=-1):
    """x with a 1 inserted at ``axis`` (counted in the output's rank when negative)."""
    x = shapes[0]
    if x is None:
        return [None]
    ax = axis % (len(x) + 1)
    return [(*x[:ax], 1, *x[ax:])]


@op("ExpandDims", shape=_expand_dims, traits=Traits(batch="axis_attrs"))
def ExpandDims(x, axis=-1):
    """``x`` with a new axis of size 1 at ``axis``."""
    return np.expand_dims(x, axis)


# ---- general indexing (what ONNX graphs use beyond Keras' layers) ----------------------------
def _slice(shapes, starts=(0,), ends=(0,), axes=(0,), steps=(1,)):
    """Each sliced axis takes len(range(*slice(start, end, step).indices(size))); a free dim
    stays free."""
    x = list(shapes[0]) if shapes[0] is not None else None
    if x is None:
        return [None]
    for s, e, a, st in zip(starts, ends, axes, steps):
        if x[a] is not None:
            x[a] = len(range(*slice(s, e, st).indices(x[a])))
    return [tuple(x)]


@op("Slice", shape=_slice, traits=Traits(batch="axis_attrs"))
def Slice(x, starts=(0,), ends=(0,), axes=(0,), steps=(1,)):
    """x[start:end:step] along each of ``axes`` (Python slice rules, ends clamped)."""
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[a] = slice(s, e, st)
    return x[tuple(index)]


def _take(shapes, axis=0):
    """x (..., D, ...) and indices (I...) -> (..., I..., ...) at ``axis``."""
    x, idx = shapes
    if x is None or idx is None:
        return [None]
    a = axis % len(x)
    return [(*x[:a], *idx, *x[a + 1:])]


@op("Take", shape=_take, traits=Traits(batch="axis_attrs"))
def Take(x, indices, axis=0):
    """Elements of x at integer ``indices`` along ``axis`` (negative indices count back)."""
    return np.take(x, indices, axis=axis)


def _tile(shapes, repeats=(1,)):
    """Each dim multiplied by its repeat count."""
    x = shapes[0]
    if x is None:
        return [None]
    return [tuple(None if d is None else d * r for d, r in zip(x, repeats))]


@op("Tile", shape=_tile, traits=Traits(batch="axis_attrs"))
def Tile(x, repeats=(1,)):
    """x repeated ``repeats[i]`` times along each axis i (batch included)."""
    return np.tile(x, repeats)


def _take_along(shapes, axis=0):
    """The indices' shape."""
    return [shapes[1]]


@op("TakeAlong", shape=_take_along, traits=Traits(batch="axis_attrs"))
def TakeAlong(x, indices, axis=0):
    """x at ``indices`` along ``axis``, element by element (indices has x's rank; negative
    indices count back)."""
    idx = np.where(indices < 0, indices + x.shape[axis], indices)
    return np.take_along_axis(x, idx, axis=axis)
