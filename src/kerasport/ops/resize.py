"""Image resizing kernels (channels-last), with TensorFlow's half-pixel-centre conventions."""

from __future__ import annotations

import numpy as np

from kerasport.ops.registry import op


def _nearest_index(out_size, in_size):
    scale = in_size / out_size
    return np.minimum(np.floor((np.arange(out_size) + 0.5) * scale).astype(np.int64),
                      in_size - 1)


def _linear_weights(out_size, in_size):
    scale = in_size / out_size
    src = (np.arange(out_size) + 0.5) * scale - 0.5
    lo = np.floor(src)
    frac = (src - lo).astype(np.float32)
    lo = lo.astype(np.int64)
    hi = np.clip(lo + 1, 0, in_size - 1)
    lo = np.clip(lo, 0, in_size - 1)
    return lo, hi, frac


def _resize(shapes, size=(1, 1), method="nearest"):
    """Spatial axes take ``size``."""
    x = shapes[0]
    return [None if x is None else (x[0], *size, *x[1 + len(size):])]


@op("Resize", shape=_resize)
def Resize(x, size=(1, 1), method="nearest"):
    """Resize the spatial axes (1 to 3 of them) to ``size`` by 'nearest' or separable linear
    interpolation ('bilinear'), half-pixel centres as tf.image.resize."""
    for i, out in enumerate(size):
        axis = 1 + i
        n_in = x.shape[axis]
        if out == n_in:
            continue
        if method == "nearest":
            x = np.take(x, _nearest_index(out, n_in), axis=axis)
        else:
            lo, hi, frac = _linear_weights(out, n_in)
            shape = [1] * x.ndim
            shape[axis] = out
            frac = frac.reshape(shape)
            a = np.take(x, lo, axis=axis)
            b = np.take(x, hi, axis=axis)
            x = a + (b - a) * frac
    return x


def _repeat(shapes, repeats=(2,)):
    """Axes 1, 2, ... multiplied by ``repeats``."""
    x = shapes[0]
    if x is None:
        return [None]
    dims = list(x)
    for i, r in enumerate(repeats):
        dims[1 + i] = None if dims[1 + i] is None else dims[1 + i] * r
    return [tuple(dims)]


@op("Repeat", shape=_repeat)
def Repeat(x, repeats=(2,)):
    """Nearest-neighbour upsampling by integer factors: repeat along axes 1, 2, ..."""
    for i, r in enumerate(repeats):
        if r != 1:
            x = np.repeat(x, r, axis=1 + i)
    return x
