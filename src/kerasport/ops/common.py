"""Shape-rule helpers shared by the op families.

A shape is a tuple of ints and None (a free dimension), or None when even the rank is unknown.
"""

from __future__ import annotations


def same_shape(shapes, **_):
    """Output shape = first input's shape."""
    return [shapes[0]]


def broadcast(*shapes):
    """NumPy broadcasting of shapes with free (None) dims."""
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        if known:
            out.append(known.pop())
        elif None in dims:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def broadcast_shape(shapes, **_):
    """Inputs broadcast together (NumPy rules)."""
    return [broadcast(*shapes)]


def window_out(size, k, stride, dilation, padding):
    """Output length of a sliding window over ``size`` ('same', 'causal' or 'valid')."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    if padding == "causal":
        return (size - 1) // stride + 1
    return (size - dilation * (k - 1) - 1) // stride + 1
