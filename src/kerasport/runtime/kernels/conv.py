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
        elif cin == groups and cout == groups:
            # one input and one output channel per group: a depthwise convolution
            return DepthwiseConv(x, kernel.reshape(*ksize, cin, 1), bias, strides, dilations,
                                 "valid")
        else:
            # every group at once: (g, pixels, taps*cg) @ (g, taps*cg, og)
            cg, og, taps = cin // groups, cout // groups, int(np.prod(ksize))
            cols = win.reshape(-1, taps, groups, cg).transpose(2, 0, 1, 3).reshape(
                groups, -1, taps * cg)
            w = kernel.reshape(taps, cg, groups, og).transpose(2, 0, 1, 3).reshape(
                groups, taps * cg, og)
            y = np.matmul(cols, w).transpose(1, 0, 2).reshape(-1, cout)
    y = y.reshape(n, *out_sizes, cout)
    if bias is not None:
        y += bias
    return y


def _tap_slices(offsets, dilations, strides, out_sizes):
    return tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                 for t, d, s, o in zip(offsets, dilations, strides, out_sizes))


@kernel("DepthwiseConv")
def DepthwiseConv(x, kernel, bias=None, strides=(1,), dilations=(1,), padding="valid"):
    """Depthwise convolution as a sum over kernel taps; kernel is Keras' (*ksize, C, M) and
    output channel c*M + m comes from input channel c."""
    r = kernel.ndim - 2
    ksize = kernel.shape[:r]
    pads = spatial_pads(x.shape[1:-1], ksize, strides, dilations, padding)
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
    sizes = x.shape[1:-1]
    out = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(sizes, ksize, strides, dilations)]
    c, m = kernel.shape[-2], kernel.shape[-1]
    y = np.zeros((x.shape[0], *out, c, m), dtype=x.dtype)
    for tap in np.ndindex(*ksize):
        patch = x[(slice(None), *_tap_slices(tap, dilations, strides, out))]
        if m == 1:
            y[..., 0] += patch * kernel[tap][:, 0]
        else:
            y += patch[..., None] * kernel[tap]
    y = y.reshape(x.shape[0], *out, c * m)
    if bias is not None:
        y += bias
    return y


def transpose_out_size(size, k, stride, dilation, padding, output_padding=None):
    """Keras' output length of a transposed convolution along one axis."""
    k_eff = (k - 1) * dilation + 1
    if output_padding is None:
        return size * stride + max(k_eff - stride, 0) if padding == "valid" else size * stride
    pad = k_eff // 2 if padding == "same" else 0
    return (size - 1) * stride + k_eff - 2 * pad + output_padding


@kernel("ConvTranspose")
def ConvTranspose(x, kernel, bias=None, strides=(1,), dilations=(1,), padding="valid",
                  output_padding=None):
    """Transposed convolution (the gradient of Conv), kernel Keras' (*ksize, F, C): one matrix
    product, then each tap's contribution added into a strided slice of the output."""
    r = kernel.ndim - 2
    ksize, f, c = kernel.shape[:r], kernel.shape[-2], kernel.shape[-1]
    n, sizes = x.shape[0], x.shape[1:-1]
    ops_ = output_padding or [None] * r
    outs = [transpose_out_size(s, k, st, d, padding, op)
            for s, k, st, d, op in zip(sizes, ksize, strides, dilations, ops_)]
    full = [(s - 1) * st + (k - 1) * d + 1 for s, k, st, d in zip(sizes, ksize, strides, dilations)]
    before = [0 if padding == "valid" else max(fl - o, 0) // 2 for fl, o in zip(full, outs)]
    buf = np.zeros((n, *(max(fl, b + o) for fl, b, o in zip(full, before, outs)), f), x.dtype)
    cols = (x.reshape(-1, c) @ np.moveaxis(kernel, -1, 0).reshape(c, -1)).reshape(
        n, *sizes, *ksize, f)
    for tap in np.ndindex(*ksize):
        sl = _tap_slices(tap, dilations, strides, sizes)
        buf[(slice(None), *sl)] += cols[(slice(None),) * (1 + r) + tap]
    y = buf[(slice(None), *(slice(b, b + o) for b, o in zip(before, outs)))]
    if bias is not None:
        y = y + bias
    return np.ascontiguousarray(y)
