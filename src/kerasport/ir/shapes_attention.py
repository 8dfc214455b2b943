"""Shape rules of the attention ops (see kerasport.ir.shapes for the conventions)."""

from __future__ import annotations

from kerasport.ir.ops import shape_rule
from kerasport.ir.shapes import broadcast


@shape_rule("MatMul")
def _matmul(shapes, transpose_b=False):
    """(..., M, K) @ (..., K, P) -> (..., M, P), leading axes broadcast; with transpose_b the
    second input is (..., P, K)."""
    a, b = shapes[0], shapes[1]
    if a is None or b is None:
        return [None]
    p = b[-2] if transpose_b else b[-1]
    lead = broadcast(a[:-2], b[:-2])
    return [(*lead, a[-2], p)]


def _merge_dim(dims):
    known = {d for d in dims if d is not None and d != 1}
    if known:
        return known.pop()
    return None if None in dims else 1


@shape_rule("Einsum")
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


@shape_rule("MaskedSoftmax")
def _masked_softmax(shapes, **_):
    """Unchanged (the scores' shape)."""
    return [shapes[0]]
