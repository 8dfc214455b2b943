"""Matrix products: Dense, batched MatMul, Einsum."""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import broadcast
from kerasport.ops.registry import Traits, op


def _dense(shapes, **_):
    """(..., K) @ (K, U) -> (..., U)."""
    x, w = shapes[0], shapes[1]
    return [None if x is None else (*x[:-1], w[-1])]


@op("Dense", shape=_dense, traits=Traits(affine_foldable=True, quantize_inputs=(1,)))
def Dense(x, kernel, bias=None):
    """x @ kernel (+ bias) over the last axis of x; any rank.

    Leading axes are flattened into one matrix product: NumPy runs ``x @ kernel`` on a 3-D
    ``x`` as many small products, many times slower."""
    y = x.reshape((-1, x.shape[-1])) @ kernel
    if bias is not None:
        y += bias
    return y.reshape((*x.shape[:-1], kernel.shape[-1]))


def _matmul(shapes, transpose_b=False):
    """(..., M, K) @ (..., K, P) -> (..., M, P), leading axes broadcast; with transpose_b the
    second input is (..., P, K)."""
    a, b = shapes[0], shapes[1]
    if a is None or b is None:
        return [None]
    p = b[-2] if transpose_b else b[-1]
    lead = broadcast(a[:-2], b[:-2])
    return [(*lead, a[-2], p)]


@op("MatMul", shape=_matmul)
def MatMul(a, b, transpose_b=False):
    """Batched matrix product a @ b, or a @ b^T with ``transpose_b`` (leading axes broadcast)."""
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def _merge_dim(dims):
    known = {d for d in dims if d is not None and d != 1}
    if known:
        return known.pop()
    return None if None in dims else 1


def _einsum(shapes, equation=""):
    """Each output letter takes its size from the inputs that carry it (1 broadcasts, a free
    size stays free); ``...`` takes the broadcast of the inputs' elided axes."""
    if any(s is None for s in shapes):
        return [None]
    lhs, out = equation.replace(" ", "").split("->")
    sizes: dict[str, list] = {}
    elided = []
    for spec, shape in zip(lhs.split(","), shapes):
        if "..." in spec:
            left, right = spec.split("...")
            n_ell = len(shape) - len(left) - len(right)
            elided.append(tuple(shape[len(left):len(left) + n_ell]))
            letters = list(left) + [None] * n_ell + list(right)
        else:
            letters = list(spec)
        for letter, dim in zip(letters, shape):
            if letter is not None:
                sizes.setdefault(letter, []).append(dim)
    ell = broadcast(*elided) if elided else ()
    dims: list = []
    if "..." in out:
        left, right = out.split("...")
        dims = [_merge_dim(sizes[c]) for c in left] + list(ell) + [
            _merge_dim(sizes[c]) for c in right]
    else:
        dims = [_merge_dim(sizes[c]) for c in out]
    return [tuple(dims)]


@op("Einsum", shape=_einsum)
def Einsum(*xs, equation=""):
    """np.einsum(equation, *xs) (EinsumDense, Dot, sums over an axis)."""
    return np.einsum(equation, *xs, optimize=len(xs) > 1).astype(xs[0].dtype, copy=False)


def _cum_sum(shapes, axis=0, exclusive=False, reverse=False):
    """Same shape."""
    return [shapes[0]]


@op("CumSum", shape=_cum_sum, traits=Traits(batch="axis_attrs"))
def CumSum(x, axis=0, exclusive=False, reverse=False):
    """Running sum along ``axis`` (from the end with ``reverse``; each element left out of
    its own sum with ``exclusive``)."""
    if reverse:
        x = np.flip(x, axis)
    y = np.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:
        y = y - x
    return np.flip(y, axis) if reverse else y


def _trilu(shapes, k=0, upper=True):
    """Same shape."""
    return [shapes[0]]


@op("Trilu", shape=_trilu)
def Trilu(x, k=0, upper=True):
    """The upper (or lower) triangle of the last two axes from diagonal ``k``; zeros
    elsewhere."""
    return np.triu(x, k) if upper else np.tril(x, k)
