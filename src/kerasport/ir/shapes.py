"""Shape rules, one per IR op: ``rule(input_shapes, **attrs) -> output_shapes``.

A shape is a tuple of ints and None (a free dimension), or None when even the rank is unknown.
Each rule states in its docstring what it computes; tests check them against the shapes the
kernels produce.
"""

from __future__ import annotations

import math

from kerasport.ir.ops import shape_rule

_UNARY = (
    "Relu LeakyRelu PRelu Elu Selu Gelu Sigmoid HardSigmoid Silu HardSilu Softplus Mish Softsign "
    "Tanh Exp Softmax LogSoftmax Affine Cast LayerNorm GroupNorm L2Normalize RmsNorm "
    "Celu HardTanh LogSigmoid SparsePlus SparseSigmoid Squareplus TanhShrink HardShrink "
    "SoftShrink Threshold"
).split()


def _same(shapes, **_):
    """Output shape = first input's shape."""
    return [shapes[0]]


for _op in _UNARY:
    shape_rule(_op)(_same)


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


def _broadcast_rule(shapes, **_):
    """Inputs broadcast together (NumPy rules)."""
    return [broadcast(*shapes)]


for _op in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Mean"):
    shape_rule(_op)(_broadcast_rule)


@shape_rule("Dense")
def _dense(shapes, **_):
    """(..., K) @ (K, U) -> (..., U)."""
    x, w = shapes[0], shapes[1]
    return [None if x is None else (*x[:-1], w[-1])]


def _window_out(size, k, stride, dilation, padding):
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    if padding == "causal":
        return (size - 1) // stride + 1
    return (size - dilation * (k - 1) - 1) // stride + 1


@shape_rule("Conv")
def _conv(shapes, strides=(1,), dilations=(1,), padding="valid", groups=1):
    """(N, *S, C) -> (N, *O, F); O = ceil(S/s) for 'same', floor((S - d(k-1) - 1)/s) + 1 for
    'valid', (S - 1)//s + 1 for 'causal'; F = kernel's last dim."""
    x, w = shapes[0], shapes[1]
    if x is None:
        return [None]
    r = len(w) - 2
    out = [_window_out(x[1 + i], w[i], strides[i], dilations[i], padding) for i in range(r)]
    return [(x[0], *out, w[-1])]


@shape_rule("DepthwiseConv")
def _depthwise(shapes, strides=(1,), dilations=(1,), padding="valid"):
    """(N, *S, C) -> (N, *O, C*M), O as for Conv; kernel (*ksize, C, M)."""
    x, w = shapes[0], shapes[1]
    if x is None:
        return [None]
    r = len(w) - 2
    out = [_window_out(x[1 + i], w[i], strides[i], dilations[i], padding) for i in range(r)]
    return [(x[0], *out, w[-2] * w[-1])]


@shape_rule("ConvTranspose")
def _conv_transpose(shapes, strides=(1,), dilations=(1,), padding="valid", output_padding=None):
    """(N, *S, C) -> (N, *O, F), O by Keras' transposed-convolution length rule; kernel
    (*ksize, F, C)."""
    from kerasport.runtime.kernels.conv import transpose_out_size

    x, w = shapes[0], shapes[1]
    if x is None:
        return [None]
    r = len(w) - 2
    ops_ = output_padding or [None] * r
    out = [None if x[1 + i] is None else transpose_out_size(
        x[1 + i], w[i], strides[i], dilations[i], padding, ops_[i]) for i in range(r)]
    return [(x[0], *out, w[-2])]


@shape_rule("Resize")
def _resize(shapes, size=(1, 1), method="nearest"):
    """Spatial axes take ``size``."""
    x = shapes[0]
    return [None if x is None else (x[0], *size, *x[1 + len(size):])]


@shape_rule("Repeat")
def _repeat(shapes, repeats=(2,)):
    """Axes 1, 2, ... multiplied by ``repeats``."""
    x = shapes[0]
    if x is None:
        return [None]
    dims = list(x)
    for i, r in enumerate(repeats):
        dims[1 + i] = None if dims[1 + i] is None else dims[1 + i] * r
    return [tuple(dims)]


@shape_rule("Pool")
def _pool(shapes, mode="max", pool_size=(2,), strides=(2,), padding="valid"):
    """(N, *S, C) -> (N, *O, C) with the window rule of Conv (dilation 1)."""
    x = shapes[0]
    if x is None:
        return [None]
    out = [_window_out(x[1 + i], k, strides[i], 1, padding) for i, k in enumerate(pool_size)]
    return [(x[0], *out, x[-1])]


@shape_rule("Reduce")
def _reduce(shapes, mode="mean", axes=(1,), keepdims=False):
    """Reduced axes dropped, or kept as 1 with ``keepdims``."""
    x = shapes[0]
    if x is None:
        return [None]
    ax = {a % len(x) for a in axes}
    if keepdims:
        return [tuple(1 if i in ax else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in ax)]


@shape_rule("Reshape")
def _reshape(shapes, shape=(-1,)):
    """(N, ...) -> (N, *shape), the -1 resolved when the input size is known."""
    x = shapes[0]
    dims = list(shape)
    if -1 in dims:
        known = None if x is None or None in x[1:] else math.prod(x[1:])
        rest = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = None if known is None or rest == 0 else known // rest
    return [(None if x is None else x[0], *dims)]


@shape_rule("Flatten")
def _flatten(shapes):
    """(N, ...) -> (N, prod(...))."""
    x = shapes[0]
    if x is None:
        return [None]
    return [(x[0], None if None in x[1:] else math.prod(x[1:]))]


@shape_rule("Transpose")
def _transpose(shapes, perm=(0,)):
    """Dims reordered by ``perm``."""
    x = shapes[0]
    return [None if x is None else tuple(x[p] for p in perm)]


@shape_rule("Pad")
def _pad(shapes, pads=((0, 0),), value=0.0):
    """Each dim grows by before + after."""
    x = shapes[0]
    if x is None:
        return [None]
    return [tuple(None if d is None else d + b + a for d, (b, a) in zip(x, pads))]


@shape_rule("Crop")
def _crop(shapes, crops=((0, 0),)):
    """Each dim shrinks by before + after."""
    x = shapes[0]
    if x is None:
        return [None]
    return [tuple(None if d is None else d - b - a for d, (b, a) in zip(x, crops))]


@shape_rule("Concat")
def _concat(shapes, axis=-1):
    """Sizes along ``axis`` add up; the other dims are broadcast."""
    if any(s is None for s in shapes):
        return [None]
    rank = len(shapes[0])
    ax = axis % rank
    sizes = [s[ax] for s in shapes]
    total = None if None in sizes else sum(sizes)
    others = [tuple(d for i, d in enumerate(s) if i != ax) for s in shapes]
    merged = list(broadcast(*others))
    merged.insert(ax, total)
    return [tuple(merged)]


def _rnn_shapes(shapes, return_sequences, n_states):
    x, rk = shapes[0], shapes[2]
    if x is None:
        return [None] * (1 + n_states)
    units = rk[0]
    y = (x[0], x[1], units) if return_sequences else (x[0], units)
    return [y] + [(x[0], units)] * n_states


@shape_rule("SimpleRNN")
def _simple_rnn(shapes, return_sequences=False, **_):
    """x (N, T, F) -> outputs (N, T, U) or (N, U), then h (N, U); U = recurrent kernel rows."""
    return _rnn_shapes(shapes, return_sequences, 1)


@shape_rule("GRU")
def _gru(shapes, return_sequences=False, **_):
    """As SimpleRNN: outputs, then h."""
    return _rnn_shapes(shapes, return_sequences, 1)


@shape_rule("LSTM")
def _lstm(shapes, return_sequences=False, **_):
    """As SimpleRNN: outputs, then h and c."""
    return _rnn_shapes(shapes, return_sequences, 2)


@shape_rule("Gather")
def _gather(shapes):
    """table (V, D), indices (...) -> (..., D)."""
    table, idx = shapes
    return [None if idx is None else (*idx, *table[1:])]


@shape_rule("Reverse")
def _reverse(shapes, axis=1):
    """Unchanged."""
    return [shapes[0]]


@shape_rule("FoldTime")
def _fold_time(shapes):
    """(N, T, ...) -> (None, ...)."""
    x = shapes[0]
    return [None if x is None else (None, *x[2:])]


@shape_rule("UnfoldTime")
def _unfold_time(shapes):
    """y (M, ...), like (N, T, ...) -> (N, T, ...y)."""
    y, like = shapes
    return [None if y is None or like is None else (like[0], like[1], *y[1:])]


@shape_rule("MaskNotEqual")
def _mask_not_equal(shapes, axis=None, **_):
    """x -> x's shape, without ``axis`` when given."""
    x = shapes[0]
    if x is None or axis is None:
        return [x]
    ax = axis % len(x)
    return [tuple(d for i, d in enumerate(x) if i != ax)]


@shape_rule("ApplyMask")
def _apply_mask(shapes):
    """Unchanged."""
    return [shapes[0]]


@shape_rule("MaskedMean")
def _masked_mean(shapes, keepdims=False):
    """(N, T, ...) -> (N, ...), or (N, 1, ...) with keepdims."""
    x = shapes[0]
    if x is None:
        return [None]
    return [(x[0], 1, *x[2:]) if keepdims else (x[0], *x[2:])]


@shape_rule("MaskReduce")
def _mask_reduce(shapes, axis=None, keepdims=False, **_):
    """Like a reduction over ``axis`` (every axis if None)."""
    x = shapes[0]
    if x is None:
        return [None]
    axes = range(len(x)) if axis is None else [axis % len(x)]
    if keepdims:
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


@shape_rule("MaskLogical")
def _mask_logical(shapes, mode="and"):
    """Broadcast of the operands."""
    if mode == "not" or len(shapes) < 2 or shapes[1] is None:
        return [shapes[0]]
    if shapes[0] is None:
        return [None]
    return [broadcast(shapes[0], shapes[1])]


@shape_rule("ConvLSTM")
def _conv_lstm(shapes, strides=(1,), dilations=(1,), padding="valid", return_sequences=False,
               **_):
    """x (N, T, *S, C) -> outputs (N, T, *O, F) or (N, *O, F), then h and c (N, *O, F); O as
    for Conv, F = recurrent kernel's second-to-last dim."""
    x, w, rk = shapes[0], shapes[1], shapes[2]
    if x is None:
        return [None] * 3
    r = len(w) - 2
    out = [_window_out(x[2 + i], w[i], strides[i], dilations[i], padding) for i in range(r)]
    state = (x[0], *out, rk[-2])
    y = (x[0], x[1], *out, rk[-2]) if return_sequences else state
    return [y, state, state]


@shape_rule("ExpandDims")
def _expand_dims(shapes, axis=-1):
    """x with a 1 inserted at ``axis`` (counted in the output's rank when negative)."""
    x = shapes[0]
    if x is None:
        return [None]
    ax = axis % (len(x) + 1)
    return [(*x[:ax], 1, *x[ax:])]


@shape_rule("Fill")
def _fill(shapes, **_):
    """x's shape."""
    return [shapes[0]]
