"""Convolution as im2col + one matrix product (1x1 convolutions as a plain matrix product)."""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import window_out
from kerasport.ops.registry import Traits, op

# Depthwise convolution works on blocks of about this many output bytes, so that the block
# and its temporary stay in the L2 cache across the kernel taps.
_DW_BLOCK_BYTES = 262144
# From this many output channels on, depthwise convolution runs as one einsum over a window
# view (faster there); below it, as a sum over taps on long contiguous rows.
_DW_EINSUM_CHANNELS = 96
# im2col is done image by image once the column matrix of the whole batch exceeds this.
_IM2COL_BYTES = 16777216


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


def pad_spatial(x, pads, value=0.0):
    """x (N, *S, C) with (before, after) ``pads`` per spatial axis filled with ``value``; x
    itself if there is nothing to pad. (Much faster than np.pad.)"""
    if all(b == 0 and a == 0 for b, a in pads):
        return x
    sizes = x.shape[1:-1]
    shape = (x.shape[0], *(s + b + a for s, (b, a) in zip(sizes, pads)), x.shape[-1])
    y = np.full(shape, value, x.dtype) if value else np.zeros(shape, x.dtype)
    y[(slice(None), *(slice(b, b + s) for s, (b, _) in zip(sizes, pads)))] = x
    return y


def windows(x, ksize, strides, dilations):
    """A read-only strided view of x (N, *S, C) as (N, *out, *ksize, C): every window."""
    n, *sizes, c = x.shape
    out = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(sizes, ksize, strides, dilations)]
    if min(out, default=1) < 1:
        raise ValueError(f"input of spatial size {tuple(sizes)} is smaller than the window")
    xs = x.strides
    view_strides = (xs[0], *(xs[1 + i] * st for i, st in enumerate(strides)),
                    *(xs[1 + i] * d for i, d in enumerate(dilations)), xs[-1])
    shape = (n, *out, *ksize, c)
    if x.flags.c_contiguous:
        # the plain constructor costs a fraction of as_strided's overhead (small models)
        view = np.ndarray(shape, x.dtype, x, 0, view_strides)
        view.flags.writeable = False
        return view
    return np.lib.stride_tricks.as_strided(x, shape, view_strides, writeable=False)


def _conv(shapes, strides=(1,), dilations=(1,), padding="valid", groups=1):
    """(N, *S, C) -> (N, *O, F); O = ceil(S/s) for 'same', floor((S - d(k-1) - 1)/s) + 1 for
    'valid', (S - 1)//s + 1 for 'causal'; F = kernel's last dim."""
    x, w = shapes[0], shapes[1]
    if x is None:
        return [None]
    r = len(w) - 2
    out = [window_out(x[1 + i], w[i], strides[i], dilations[i], padding) for i in range(r)]
    return [(x[0], *out, w[-1])]


@op("Conv", shape=_conv, traits=Traits(affine_foldable=True, quantize_inputs=(1,)))
def Conv(x, kernel, bias=None, strides=(1,), dilations=(1,), padding="valid", groups=1):
    """Channels-last N-d convolution; kernel is Keras' (*ksize, C/groups, F).
    Output spatial size: floor((S + pads - d*(k-1) - 1) / s) + 1 per axis."""
    r = kernel.ndim - 2
    ksize = kernel.shape[:r]
    x = pad_spatial(x, spatial_pads(x.shape[1:-1], ksize, strides, dilations, padding))
    n, cin, cout = x.shape[0], x.shape[-1], kernel.shape[-1]
    if groups == 1 and all(k == 1 for k in ksize):
        xs = x[(slice(None), *(slice(None, None, s) for s in strides))]
        out_sizes = xs.shape[1:-1]
        y = xs.reshape(-1, cin) @ kernel.reshape(cin, cout)
    else:
        win = windows(x, ksize, strides, dilations)
        out_sizes = win.shape[1:1 + r]
        if groups == 1:
            y = _im2col_matmul(win, kernel.reshape(-1, cout))
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


def _im2col_matmul(win, w):
    """(N, *out, *ksize, C) windows times w (taps*C, F) -> (N*prod(out), F): one column matrix
    and one product, or one per image when the batch's columns would be large."""
    n = win.shape[0]
    rows = win.size // w.shape[0]
    if n == 1 or rows * w.shape[0] * win.itemsize <= _IM2COL_BYTES:
        return win.reshape(rows, w.shape[0]) @ w
    per = rows // n
    y = np.empty((rows, w.shape[1]), win.dtype)
    for i in range(n):
        np.matmul(win[i].reshape(per, w.shape[0]), w, out=y[i * per:(i + 1) * per])
    return y


def _tap_slices(offsets, dilations, strides, out_sizes):
    return tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                 for t, d, s, o in zip(offsets, dilations, strides, out_sizes))


def _depthwise(shapes, strides=(1,), dilations=(1,), padding="valid"):
    """(N, *S, C) -> (N, *O, C*M), O as for Conv; kernel (*ksize, C, M)."""
    x, w = shapes[0], shapes[1]
    if x is None:
        return [None]
    r = len(w) - 2
    out = [window_out(x[1 + i], w[i], strides[i], dilations[i], padding) for i in range(r)]
    return [(x[0], *out, w[-2] * w[-1])]


@op("DepthwiseConv", shape=_depthwise, traits=Traits(affine_foldable=True))
def DepthwiseConv(x, kernel, bias=None, strides=(1,), dilations=(1,), padding="valid"):
    """Depthwise convolution; kernel is Keras' (*ksize, C, M), and input channel c gives
    output channels c*M to c*M + M - 1.

    Many channels: one einsum over the window view. Few: a sum over the kernel taps, each
    multiplying a slice of x by its weights; the last spatial axis is merged with the channels
    (split into stride phases first) so every product runs over long contiguous rows, and the
    sum goes block by block (images, or rows of one image) to stay in cache across taps."""
    r = kernel.ndim - 2
    ksize = kernel.shape[:r]
    x = pad_spatial(x, spatial_pads(x.shape[1:-1], ksize, strides, dilations, padding))
    n, sizes = x.shape[0], x.shape[1:-1]
    out = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(sizes, ksize, strides, dilations)]
    c, m = kernel.shape[-2], kernel.shape[-1]
    if c * m >= _DW_EINSUM_CHANNELS:
        y = _depthwise_einsum(x, kernel, strides, dilations)
        if bias is not None:
            y += bias
        return y
    if m > 1:
        x = np.repeat(x, m, axis=-1)
    st, ow, cm = strides[-1], out[-1], c * m
    phases = [x] if st == 1 else [np.ascontiguousarray(x[..., q::st, :]) for q in range(st)]
    taps = list(np.ndindex(*ksize))
    w = kernel.reshape(*ksize, cm)
    rows_w = [np.tile(w[tap], ow) for tap in taps]
    y = np.empty((n, *out[:-1], ow * cm), dtype=x.dtype)
    blocks = _blocks(n, out[0] if r > 1 else 1, y[0].nbytes // (out[0] if r > 1 else 1))
    tmp = None
    for i0, i1, j0, j1 in blocks:
        yb = y[i0:i1, j0:j1] if r > 1 else y[i0:i1]
        for t, tap in enumerate(taps):
            off = tap[-1] * dilations[-1]
            lead = _tap_slices(tap[:-1], dilations[:-1], strides[:-1], out[:-1])
            if r > 1:
                lead = (slice(lead[0].start + j0 * strides[0],
                              lead[0].start + (j1 - 1) * strides[0] + 1, strides[0]), *lead[1:])
            patch = phases[off % st][(slice(i0, i1), *lead, slice(off // st, off // st + ow))]
            patch = patch.reshape(yb.shape)
            if t == 0:
                np.multiply(patch, rows_w[t], out=yb)
                continue
            if tmp is None or tmp.shape != yb.shape:
                tmp = np.empty_like(yb)
            np.multiply(patch, rows_w[t], out=tmp)
            yb += tmp
    y = y.reshape(n, *out, cm)
    if bias is not None:
        y += bias
    return y


def _depthwise_einsum(x, kernel, strides, dilations):
    """Depthwise convolution of padded x as one einsum over its window view."""
    r = kernel.ndim - 2
    win = windows(x, kernel.shape[:r], strides, dilations)
    out_axes, taps = "hwd"[:r], "ijk"[:r]
    y = np.einsum(f"n{out_axes}{taps}c,{taps}cm->n{out_axes}cm", win, kernel)
    return y.reshape(*y.shape[:-2], -1)


def _blocks(n, rows, row_bytes):
    """(image start, image end, row start, row end) blocks of about _DW_BLOCK_BYTES."""
    per = max(1, _DW_BLOCK_BYTES // max(1, row_bytes))
    if per >= rows:
        step = max(1, per // rows)
        return [(i, min(i + step, n), 0, rows) for i in range(0, n, step)]
    return [(i, i + 1, j, min(j + per, rows)) for i in range(n) for j in range(0, rows, per)]


def transpose_out_size(size, k, stride, dilation, padding, output_padding=None):
    """Keras' output length of a transposed convolution along one axis."""
    k_eff = (k - 1) * dilation + 1
    if output_padding is None:
        return size * stride + max(k_eff - stride, 0) if padding == "valid" else size * stride
    pad = k_eff // 2 if padding == "same" else 0
    return (size - 1) * stride + k_eff - 2 * pad + output_padding


def _conv_transpose(shapes, strides=(1,), dilations=(1,), padding="valid", output_padding=None):
    """(N, *S, C) -> (N, *O, F), O by Keras' transposed-convolution length rule; kernel
    (*ksize, F, C)."""
    x, w = shapes[0], shapes[1]
    if x is None:
        return [None]
    r = len(w) - 2
    ops_ = output_padding or [None] * r
    out = [None if x[1 + i] is None else transpose_out_size(
        x[1 + i], w[i], strides[i], dilations[i], padding, ops_[i]) for i in range(r)]
    return [(x[0], *out, w[-2])]


@op("ConvTranspose", shape=_conv_transpose)
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


def _spatial_pad(shapes, margins=((0, 0),), value=0.0):
    """(N, *S, C) -> (N, *(S + before + after), C)."""
    x = shapes[0]
    if x is None:
        return [None]
    grown = (None if d is None else d + b + a for d, (b, a) in zip(x[1:-1], margins))
    return [(x[0], *grown, x[-1])]


@op("SpatialPad", shape=_spatial_pad)
def SpatialPad(x, margins=((0, 0),), value=0.0):
    """x (N, *S, C) with (before, after) ``margins`` per spatial axis filled with ``value``
    (explicit padding before a convolution or a pool)."""
    return pad_spatial(x, [tuple(m) for m in margins], value)
