"""Elementwise and broadcasting kernels: merges, affine transforms, casts."""

from __future__ import annotations

import numpy as np

from kerasport.ir.ops import kernel


@kernel("Add")
def Add(*xs):
    """Sum of all inputs (broadcasting)."""
    y = xs[0] + xs[1]
    for x in xs[2:]:
        y = y + x
    return y


@kernel("Sub")
def Sub(a, b):
    """a - b (broadcasting)."""
    return a - b


@kernel("Div")
def Div(a, b):
    """a / b (broadcasting)."""
    return a / b


@kernel("Mul")
def Mul(*xs):
    """Product of all inputs (broadcasting)."""
    y = xs[0] * xs[1]
    for x in xs[2:]:
        y = y * x
    return y


@kernel("Max")
def Max(*xs):
    """Elementwise maximum of all inputs."""
    y = np.maximum(xs[0], xs[1])
    for x in xs[2:]:
        y = np.maximum(y, x)
    return y


@kernel("Min")
def Min(*xs):
    """Elementwise minimum of all inputs."""
    y = np.minimum(xs[0], xs[1])
    for x in xs[2:]:
        y = np.minimum(y, x)
    return y


@kernel("Mean")
def Mean(*xs):
    """Elementwise mean of all inputs (Keras' Average: sum, then divide by the count)."""
    return Add(*xs) / np.float32(len(xs))


@kernel("Affine")
def Affine(x, scale=None, shift=None):
    """x * scale + shift, both broadcast against x (folded BatchNormalization)."""
    if scale is not None:
        x = x * scale
    if shift is not None:
        x = x + shift
    return x


@kernel("Cast")
def Cast(x, dtype="float32"):
    """x converted to ``dtype``."""
    return x.astype(dtype, copy=False)
