"""Activation kernels, with Keras' exact formulas (float32 in, float32 out)."""

from __future__ import annotations

import inspect

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ops.common import same_shape
from kerasport.ops.registry import UNARY, Traits, op

# SELU's constants (Klambauer et al. 2017), the one place they are written: kernels, standalone
# code and every target use these
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# arrays of at least this many elements take the paths that are faster on large data but
# carry more fixed overhead per call
_LARGE = 16384


@op("Relu", shape=same_shape, traits=UNARY)
def Relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """Keras' general relu: x above threshold (else 0), clipped at max_value, minus
    negative_slope * relu(threshold - x)."""
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return np.where(x >= 0, x, x * np.float32(negative_slope)).astype(x.dtype, copy=False)
    if threshold == 0.0 and negative_slope == 0.0 and x.size >= _LARGE:
        # one clip: on large arrays much faster than maximum (+ minimum), same values
        hi = np.inf if max_value is None else max_value
        return np.clip(x, x.dtype.type(0), x.dtype.type(hi))
    if threshold != 0.0:
        y = np.where(x > threshold, x, np.zeros((), x.dtype))
    else:
        y = np.maximum(x, np.zeros((), x.dtype))
    if max_value is not None:
        y = np.minimum(y, np.asarray(max_value, x.dtype))
    if negative_slope != 0.0:
        y = y - np.float32(negative_slope) * np.maximum(np.float32(threshold) - x, 0)
    return y.astype(x.dtype, copy=False)


@op("LeakyRelu", shape=same_shape, traits=UNARY)
def LeakyRelu(x, alpha=0.2):
    """x for x >= 0, alpha * x otherwise."""
    return np.where(x >= 0, x, x * np.float32(alpha)).astype(x.dtype, copy=False)


@op("PRelu", shape=same_shape, traits=UNARY)
def PRelu(x, alpha):
    """relu(x) - alpha * relu(-x), alpha broadcast over the non-batch dims."""
    return np.maximum(x, 0) - alpha * np.maximum(-x, 0)


@op("Elu", shape=same_shape, traits=UNARY)
def Elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    neg = np.float32(alpha) * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, neg).astype(x.dtype, copy=False)


@op("Selu", shape=same_shape, traits=UNARY)
def Selu(x):
    """scale * elu(x, alpha) with the self-normalising constants."""
    neg = np.float32(SELU_ALPHA) * np.expm1(np.minimum(x, 0))
    return (np.float32(SELU_SCALE) * np.where(x > 0, x, neg)).astype(x.dtype, copy=False)


def _erf(x):
    # Abramowitz & Stegun 7.1.26 in x's dtype: absolute error below 1.5e-7 (+ rounding).
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                           + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-z * z))


@op("Gelu", shape=same_shape, traits=UNARY)
def Gelu(x, approximate=False):
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation when ``approximate``."""
    if approximate:
        c = np.float32(np.sqrt(2.0 / np.pi))
        y = 0.5 * x * (1.0 + np.tanh(c * (x + np.float32(0.044715) * x**3)))
    else:
        y = 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / np.sqrt(2.0))))
    return y.astype(x.dtype, copy=False)


@op("Sigmoid", shape=same_shape, traits=UNARY)
def Sigmoid(x):
    """1 / (1 + exp(-x)), as 0.5 + 0.5 tanh(x / 2): no overflow, no float64, one
    transcendental pass."""
    y = np.tanh(x * x.dtype.type(0.5))
    y *= x.dtype.type(0.5)
    y += x.dtype.type(0.5)
    return y


@op("HardSigmoid", shape=same_shape, traits=UNARY)
def HardSigmoid(x, slope=1.0 / 6.0, offset=0.5):
    """clip(slope * x + offset, 0, 1); Keras 3 uses 1/6 and 0.5, Keras 2 used 0.2 and 0.5."""
    return np.clip(x * np.float32(slope) + np.float32(offset), 0, 1).astype(x.dtype, copy=False)


@op("Silu", shape=same_shape, traits=UNARY)
def Silu(x):
    """x * sigmoid(x), as h (1 + tanh h) with h = x / 2 (four passes over the data)."""
    h = x * x.dtype.type(0.5)
    y = np.tanh(h)
    y += x.dtype.type(1)
    y *= h
    return y


@op("HardSilu", shape=same_shape, traits=UNARY)
def HardSilu(x):
    """x * relu6(x + 3) / 6."""
    return x * HardSigmoid(x)


@op("Softplus", shape=same_shape, traits=UNARY)
def Softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow, stays in x's dtype."""
    return np.clip(x, x.dtype.type(0), None) + np.log1p(np.exp(-np.abs(x)))


@op("Mish", shape=same_shape, traits=UNARY)
def Mish(x):
    """x * tanh(softplus(x))."""
    return x * np.tanh(Softplus(x))


@op("Softsign", shape=same_shape, traits=UNARY)
def Softsign(x):
    """x / (1 + |x|)."""
    return x / (1 + np.abs(x))


def glu_shape(shapes, axis=-1):
    """The input's shape with ``axis`` halved (an even size, or a free dim)."""
    shape = shapes[0]
    if shape is None:
        return [None]
    ax = axis % len(shape)
    size = shape[ax]
    if isinstance(size, int) and size % 2:
        raise KerasportError(f"Glu: axis {axis} has an odd size {size}")
    return [(*shape[:ax], size // 2 if isinstance(size, int) else size, *shape[ax + 1:])]


@op("Glu", shape=glu_shape, traits=Traits(batch="axis_attrs"))
def Glu(x, axis=-1):
    """a * sigmoid(b), where a and b are the two halves of ``x`` along ``axis``."""
    a, b = np.split(x, 2, axis=axis)
    return a * Sigmoid(b)


@op("Tanh", shape=same_shape, traits=UNARY)
def Tanh(x):
    """tanh(x)."""
    return np.tanh(x)


@op("Exp", shape=same_shape, traits=UNARY)
def Exp(x):
    """exp(x)."""
    return np.exp(x)


def max_last(x):
    """Maximum over the last axis (kept, size 1) by halving the axis: elementwise maxima of
    halves run much faster than numpy's reduction along a short contiguous axis."""
    m = x
    while m.shape[-1] > 1:
        h = m.shape[-1] // 2
        top = np.maximum(m[..., :h], m[..., h:2 * h])
        if m.shape[-1] % 2:
            top[..., :1] = np.maximum(top[..., :1], m[..., 2 * h:])
        m = top
    return m


@op("Softmax", shape=same_shape, traits=Traits(unary=True, batch="axis_attrs"))
def Softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) over ``axis`` (an int or a list of ints)."""
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    if ax in (-1, x.ndim - 1, (-1,), (x.ndim - 1,)) and x.shape[-1] > 0:
        if x.size < _LARGE:
            e = x - x.max(axis=-1, keepdims=True)
            np.exp(e, out=e)
            e /= e.sum(axis=-1, keepdims=True)
            return e
        e = x - max_last(x)
        np.exp(e, out=e)
        e /= (e @ np.ones(e.shape[-1], e.dtype))[..., None]  # the row sums, as one product
        return e
    e = np.exp(x - np.max(x, axis=ax, keepdims=True))
    return e / np.sum(e, axis=ax, keepdims=True)


@op("LogSoftmax", shape=same_shape, traits=Traits(unary=True, batch="axis_attrs"))
def LogSoftmax(x, axis=-1):
    """x - max - log(sum(exp(x - max))) over ``axis`` (an int or a list of ints)."""
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    shifted = x - np.max(x, axis=ax, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))


# ---- Keras 3's newer activations (keras.activations / keras.ops, TensorFlow backend) -----

# activation name -> (op, attributes): Keras' defaults, which are also the kernels' defaults.
# threshold has no defaults, so it exists only as a recorded operation (ops.Threshold).
@op("Celu", shape=same_shape, traits=UNARY)
def Celu(x, alpha=1.0):
    """max(x, 0) + alpha * expm1(min(x, 0) / alpha)."""
    a = np.float32(alpha)
    return (np.maximum(x, 0) + a * np.expm1(np.minimum(x, 0) / a)).astype(x.dtype, copy=False)


@op("HardTanh", shape=same_shape, traits=UNARY)
def HardTanh(x):
    """x clipped to [-1, 1]."""
    return np.clip(x, x.dtype.type(-1), x.dtype.type(1))


@op("LogSigmoid", shape=same_shape, traits=UNARY)
def LogSigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


@op("SparsePlus", shape=same_shape, traits=UNARY)
def SparsePlus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1."""
    mid = np.float32(0.25) * (x + 1) ** 2
    return np.where(x <= -1, np.zeros((), x.dtype), np.where(x < 1, mid, x)).astype(
        x.dtype, copy=False)


@op("SparseSigmoid", shape=same_shape, traits=UNARY)
def SparseSigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1."""
    return np.clip(np.float32(0.5) * (x + 1), 0, 1).astype(x.dtype, copy=False)


@op("Squareplus", shape=same_shape, traits=UNARY)
def Squareplus(x, b=4.0):
    """(x + sqrt(x^2 + b)) / 2."""
    return ((x + np.sqrt(x * x + np.float32(b))) / np.float32(2)).astype(x.dtype, copy=False)


@op("TanhShrink", shape=same_shape, traits=UNARY)
def TanhShrink(x):
    """x - tanh(x)."""
    return x - np.tanh(x)


@op("HardShrink", shape=same_shape, traits=UNARY)
def HardShrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return np.where(np.abs(x) > np.float32(threshold), x, np.zeros((), x.dtype))


@op("SoftShrink", shape=same_shape, traits=UNARY)
def SoftShrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, else 0."""
    t = np.float32(threshold)
    y = np.where(x > t, x - t, np.where(x < -t, x + t, np.zeros((), x.dtype)))
    return y.astype(x.dtype, copy=False)


@op("Threshold", shape=same_shape, traits=UNARY)
def Threshold(x, threshold=0.0, default_value=0.0):
    """x where x > threshold, else default_value."""
    y = np.where(x > np.float32(threshold), x, np.float32(default_value))
    return y.astype(x.dtype, copy=False)


def activation_kernels():
    """The activation ops an activation spec may name (recurrent cells take their activations
    as specs): op -> kernel. A new activation kernel joins by its entry here."""
    return {"Relu": Relu, "LeakyRelu": LeakyRelu, "Elu": Elu, "Selu": Selu, "Gelu": Gelu,
            "Sigmoid": Sigmoid, "HardSigmoid": HardSigmoid, "Silu": Silu, "HardSilu": HardSilu,
            "Softplus": Softplus, "Mish": Mish, "Softsign": Softsign, "Tanh": Tanh, "Exp": Exp,
            "Celu": Celu, "HardTanh": HardTanh, "LogSigmoid": LogSigmoid,
            "SparsePlus": SparsePlus, "SparseSigmoid": SparseSigmoid, "Squareplus": Squareplus,
            "TanhShrink": TanhShrink, "HardShrink": HardShrink, "SoftShrink": SoftShrink,
            "Threshold": Threshold}


def apply_activation(spec, x):
    """An activation spec ``{"op": <an op of activation_kernels>, **attributes}`` applied to
    x (None: linear)."""
    if spec is None:
        return x
    attrs = {k: v for k, v in spec.items() if k != "op"}
    return activation_kernels()[spec["op"]](x, **attrs)


def activation_fn(spec):
    """The function ``x -> apply_activation(spec, x)``, resolved once (recurrent kernels call
    it at every step)."""
    if spec is None:
        return _identity
    kernel = activation_kernels()[spec["op"]]
    attrs = {k: v for k, v in spec.items() if k != "op"}
    if not attrs:
        return kernel
    return lambda x: kernel(x, **attrs)


def _identity(x):
    """x itself (a linear activation)."""
    return x


def activation_problem(spec) -> str | None:
    """Why ``spec`` is not a valid activation spec (None if it is): checked when a graph is
    read from a file."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("op"), str):
        return f"{str(spec)[:50]} is not an activation spec {{'op': ..., attributes}}"
    kernel = activation_kernels().get(spec["op"])
    if kernel is None:
        return f"{spec['op'][:30]!r} is not an activation op"
    params = set(inspect.signature(kernel).parameters) - {"x"}
    for key, value in spec.items():
        if key == "op":
            continue
        if key not in params:
            return f"{spec['op']} does not take the attribute {key[:30]!r}"
        if not (value is None or isinstance(value, (int, float))):
            return f"{spec['op']} attribute {key!r} is {str(value)[:30]}"
    return None
