"""Elementwise and broadcasting kernels: merges, affine transforms, casts."""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import broadcast_shape, same_shape
from kerasport.ops.registry import UNARY, op


@op("Add", shape=broadcast_shape)
def Add(*xs):
    """Sum of all inputs (broadcasting)."""
    y = xs[0] + xs[1]
    for x in xs[2:]:
        y = y + x
    return y


@op("Sub", shape=broadcast_shape)
def Sub(a, b):
    """a - b (broadcasting)."""
    return a - b


@op("Div", shape=broadcast_shape)
def Div(a, b):
    """a / b (broadcasting)."""
    return a / b


@op("Mul", shape=broadcast_shape)
def Mul(*xs):
    """Product of all inputs (broadcasting)."""
    y = xs[0] * xs[1]
    for x in xs[2:]:
        y = y * x
    return y


@op("Max", shape=broadcast_shape)
def Max(*xs):
    """Elementwise maximum of all inputs."""
    y = np.maximum(xs[0], xs[1])
    for x in xs[2:]:
        y = np.maximum(y, x)
    return y


@op("Min", shape=broadcast_shape)
def Min(*xs):
    """Elementwise minimum of all inputs."""
    y = np.minimum(xs[0], xs[1])
    for x in xs[2:]:
        y = np.minimum(y, x)
    return y


@op("Mean", shape=broadcast_shape)
def Mean(*xs):
    """Elementwise mean of all inputs (Keras' Average: sum, then divide by the count)."""
    return Add(*xs) / np.float32(len(xs))


@op("Affine", shape=same_shape, traits=UNARY)
def Affine(x, scale=None, shift=None):
    """x * scale + shift, both broadcast against x (folded BatchNormalization)."""
    if scale is not None:
        x = x * scale
    if shift is not None:
        x = x + shift
    return x


@op("Cast", shape=same_shape, traits=UNARY)
def Cast(x, dtype="float32"):
    """x converted to ``dtype``."""
    return x.astype(dtype, copy=False)
