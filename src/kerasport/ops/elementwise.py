"""Elementwise and broadcasting kernels: merges, affine transforms, casts."""

from __future__ import annotations

import numpy as np

from kerasport.ops.activations import _erf
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


# ---- general elementwise math (what ONNX graphs use beyond Keras' layers) --------------------
MATH_FUNCTIONS = ("sqrt", "log", "neg", "abs", "reciprocal", "floor", "ceil", "erf", "sin",
                  "cos", "sign", "round")


@op("Math", shape=same_shape, traits=UNARY)
def Math(x, fn="sqrt"):
    """One elementwise function of x: sqrt, log, neg, abs, reciprocal, floor, ceil, erf, sin,
    cos, sign or round (halves to even)."""
    if fn == "erf":
        return _erf(x).astype(x.dtype, copy=False)
    if fn == "neg":
        return np.negative(x)
    if fn == "reciprocal":
        return np.reciprocal(x)
    if fn == "round":
        return np.round(x)
    if fn in ("sqrt", "log", "abs", "floor", "ceil", "sin", "cos", "sign"):
        return getattr(np, fn)(x)
    raise ValueError(f"unknown Math function {fn!r}")


@op("Pow", shape=broadcast_shape)
def Pow(a, b):
    """a ** b (broadcasting), in a's dtype."""
    return np.power(a, np.asarray(b).astype(a.dtype, copy=False))


@op("Where", shape=broadcast_shape)
def Where(a, b, cond):
    """a where cond is true, else b (all three broadcast); a's dtype."""
    return np.where(cond, a, b).astype(a.dtype, copy=False)


@op("Compare", shape=broadcast_shape)
def Compare(a, b, mode="equal", dtype="bool"):
    """a == b, a < b, a <= b, a > b or a >= b (``mode`` equal, less, less_equal, greater,
    greater_equal) as booleans."""
    if mode == "equal":
        return np.equal(a, b)
    if mode == "less":
        return np.less(a, b)
    if mode == "less_equal":
        return np.less_equal(a, b)
    if mode == "greater":
        return np.greater(a, b)
    if mode == "greater_equal":
        return np.greater_equal(a, b)
    raise ValueError(f"unknown Compare mode {mode!r}")


@op("Logic", shape=broadcast_shape)
def Logic(a, b=None, mode="not"):
    """Boolean not a, a and b, a or b, a xor b (``mode``)."""
    if mode == "not":
        return np.logical_not(a)
    if mode == "and":
        return np.logical_and(a, b)
    if mode == "or":
        return np.logical_or(a, b)
    if mode == "xor":
        return np.logical_xor(a, b)
    raise ValueError(f"unknown Logic mode {mode!r}")


@op("Mod", shape=broadcast_shape)
def Mod(a, b, fmod=False):
    """a mod b: the remainder with b's sign (Python's %), or with a's sign (C's fmod) when
    ``fmod``."""
    return (np.fmod(a, b) if fmod else np.mod(a, b)).astype(a.dtype, copy=False)
