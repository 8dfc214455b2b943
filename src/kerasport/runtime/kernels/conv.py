"""Convolution as im2col + one matrix product (1x1 convolutions as a plain matrix product)."""

from __future__ import annotations

import numpy as np

from kerasport.ir.ops import kernel


def same_pads(size, k, stride, dilation):
    """TensorFlow's 'same' padding for one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def spatial_pads(sizes, ksize, strides, dilations, padding):
    """Padding per spatial axis for 'valid', 'same' or 'causal' (before only)."""
    if padding == "same":
        return [same_pads(*a) for a in zip(sizes, ksize, strides, dilations)]
    if padding == "causal":
        return [((k - 1) * d, 0) for k, d in zip(ksize, dilations)]
    return [(0, 0)] * len(sizes)


def windows(x, ksize, strides, dilations):
    """A read-only strided view of x (N, *S, C) as (N, *out, *ksize, C): every window."""
    n, *sizes, c = x.shape
    out = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(sizes, ksize, strides, dilations)]
    if min(out, default=1) < 1:
        raise ValueError(f"input of spatial size {tuple(sizes)} is smaller than the window")
    xs = x.strides
    view_strides = (xs[0], *(xs[1 + i] * st for i, st in enumerate(strides)),
                    *(xs[1 + i] * d for i, d in enumerate(dilations)), xs[-1])
    return np.lib.stride_tricks.as_strided(
        x, (n, *out, *ksize, c), view_strides, writeable=False)


@kernel("Conv")
def Conv(x, kernel, bias=None, strides=(1,), dilations=(1,), padding="valid", groups=1):
    """Channels-last N-d convolution; kernel is Keras' (*ksize, C/groups, F).
    Output spatial size: floor((S + pads - d*(k-1) - 1) / s) + 1 per axis."""
    r = kernel.ndim - 2
    ksize = kernel.shape[:r]
    pads = spatial_pads(x.shape[1:-1], ksize, strides, dilations, padding)
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
    n, cin, cout = x.shape[0], x.shape[-1], kernel.shape[-1]
    if groups == 1 and all(k == 1 for k in ksize):
        xs = x[(slice(None), *(slice(None, None, s) for s in strides))]
        out_sizes = xs.shape[1:-1]
        y = xs.reshape(-1, cin) @ kernel.reshape(cin, cout)
    else:
        win = windows(x, ksize, strides, dilations)
        out_sizes = win.shape[1:1 + r]
        if groups == 1:
            y = win.reshape(-1, int(np.prod(ksize)) * cin) @ kernel.reshape(-1, cout)
        else:
            cg, og = cin // groups, cout // groups
            y = np.empty((win.shape[0] * int(np.prod(out_sizes)), cout), dtype=x.dtype)
            for g in range(groups):
                cols = win[..., g * cg:(g + 1) * cg].reshape(-1, int(np.prod(ksize)) * cg)
                y[:, g * og:(g + 1) * og] = cols @ kernel[..., g * og:(g + 1) * og].reshape(-1, og)
    y = y.reshape(n, *out_sizes, cout)
    if bias is not None:
        y += bias
    return y
