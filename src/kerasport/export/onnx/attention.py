"""ONNX emitters for the attention ops: MatMul, Einsum and MaskedSoftmax.

Their tensors are sequences (N, T, D), heads (N, h, T, d), scores (N, h, T, S) and masks: they
have no channel axis, so every input is taken in the Keras (channels-last) layout — a value held
channels-first or time-major gets its one Transpose from context.get — and every output is
recorded channels-last.

MaskedSoftmax repeats ops/attention.py step by step (same operations, same order):
the mask gets its new axes with Unsqueeze, the causal triangle and the window band are a
constant where the scores' last two sizes are known and small, else built from Shape/Range and
comparisons (sequence lengths may be free), masked scores are filled with Where or pushed down
with Add, Softmax runs over the flattened trailing axes, and Where zeroes masked probabilities.
"""

from __future__ import annotations

import numpy as np

from kerasport.export.onnx.context import CL, ExportContext, emitter
from kerasport.export.onnx.helpers import BOOL, FLOAT, scalar
from kerasport.ir.graph import Node

# largest T * S of a causal / window mask stored as a constant (bytes of a bool initializer)
_MAX_CONST_BAND = 1 << 16


# -- MaskedSoftmax ----------------------------------------------------------------------------
def expanded_axes(mask_rank: int, rank: int, expand_axis: int) -> list[int]:
    """Where repeated np.expand_dims(mask, expand_axis) puts the new axes, as Unsqueeze axes
    of the result (rank ``rank``)."""
    dims = [False] * mask_rank
    while len(dims) < rank:
        pos = expand_axis if expand_axis >= 0 else len(dims) + 1 + expand_axis
        dims.insert(pos, True)
    return [i for i, new in enumerate(dims) if new]


def _mask(ctx: ExportContext, mask: str, rank: int, expand_axis: int, base: str) -> str:
    """The mask as float32 with x's rank (values as given)."""
    m = ctx.get(mask, CL)
    if ctx.graph.values[mask].dtype != "float32":
        m = ctx.add("Cast", [m], f"{base}/mask_f", to=FLOAT)
    axes = expanded_axes(ctx.rank(mask), rank, expand_axis)
    if axes:
        m = ctx.add("Unsqueeze", [m, ctx.ints(axes, "axes")], f"{base}/mask_x")
    return m


def band_array(t: int, s: int, causal: bool, window: int) -> np.ndarray:
    """The (t, s) keep-mask of the causal triangle (j <= i) and the band |i - j| < window."""
    keep = np.ones((t, s), dtype=bool)
    if causal:
        keep &= np.tri(t, s, dtype=bool)
    if window:
        keep &= np.abs(np.arange(t)[:, None] - np.arange(s)[None, :]) < window
    return keep


def _band(ctx: ExportContext, x_value: str, x: str, causal: bool, window: int,
          base: str) -> str | None:
    """bool (T, S) keep-mask of causal and window over the scores' last two axes."""
    if not causal and not window:
        return None
    t, s = ctx.shape(x_value)[-2:]
    if t is not None and s is not None and t * s <= _MAX_CONST_BAND:
        return ctx.const(band_array(t, s, causal, window), f"{base}/band")
    shape = ctx.add("Shape", [x], f"{base}/shape")
    zero, one = ctx.const(np.asarray(0, np.int64), "zero"), ctx.const(np.asarray(1, np.int64),
                                                                      "one")

    def positions(axis: int, name: str) -> str:
        size = ctx.add("Gather", [shape, ctx.const(np.asarray(axis, np.int64), "index")],
                       f"{base}/{name}_size", axis=0)
        return ctx.add("Range", [zero, size, one], f"{base}/{name}")

    i = ctx.add("Unsqueeze", [positions(-2, "rows"), ctx.ints([1], "axes")], f"{base}/i")
    j = positions(-1, "cols")
    keep = None
    if causal:
        keep = ctx.add("LessOrEqual", [j, i], f"{base}/causal")
    if window:
        dist = ctx.add("Abs", [ctx.add("Sub", [i, j], f"{base}/i-j")], f"{base}/dist")
        near = ctx.add("Less", [dist, ctx.const(np.asarray(window, np.int64), "window")],
                       f"{base}/window")
        keep = near if keep is None else ctx.add("And", [keep, near], f"{base}/band")
    return keep


def _softmax(ctx: ExportContext, x: str, x_value: str, axes: list[int], out: str) -> str:
    """Softmax over ``axes`` (normalised, sorted): native over one axis or over trailing axes
    flattened into one; else max-shift, Exp, sum and divide as the kernel does."""
    rank = ctx.rank(x_value)
    if len(axes) == 1:
        return ctx.add("Softmax", [x], out, axis=axes[0])
    if axes == list(range(axes[0], rank)):
        flat = ctx.add("Flatten", [x], f"{out}/flat", axis=axes[0])
        probs = ctx.add("Softmax", [flat], f"{out}/flat_probs", axis=1)
        return ctx.add("Reshape", [probs, ctx.add("Shape", [x], f"{out}/shape")], out)
    shifted = ctx.add("Sub", [x, ctx.reduce("ReduceMax", x, axes, True, f"{out}/max")],
                      f"{out}/shifted")
    e = ctx.add("Exp", [shifted], f"{out}/exp")
    return ctx.add("Div", [e, ctx.reduce("ReduceSum", e, axes, True, f"{out}/sum")], out)


@emitter("MaskedSoftmax")
def masked_softmax(ctx: ExportContext, node: Node) -> None:
    """Softmax of attention scores with the kernel's masking (see the module docstring)."""
    a = node.attrs
    x_value, out = node.inputs[0], node.outputs[0]
    mask_value = node.inputs[1] if len(node.inputs) > 1 else ""
    rank = ctx.rank(x_value)
    fill = scalar(ctx, float(a.get("fill", -1e9)), "fill")
    additive = bool(a.get("additive", False))
    x = ctx.get(x_value, CL)
    mask = _mask(ctx, mask_value, rank, int(a.get("expand_axis", 1)), out) if mask_value \
        else None
    band = _band(ctx, x_value, x, bool(a.get("causal", False)), int(a.get("window") or 0), out)
    if additive and (mask is not None or band is not None):
        m = ctx.add("Cast", [band], f"{out}/band_f", to=FLOAT) if band is not None else None
        if mask is not None:
            m = mask if m is None else ctx.add("Mul", [mask, m], f"{out}/mask_band")
        push = ctx.add("Mul", [ctx.add("Sub", [scalar(ctx, 1.0, "one_f"), m], f"{out}/1-m"),
                               fill], f"{out}/push")
        x = ctx.add("Add", [x, push], f"{out}/pushed")
    keep = ctx.add("Cast", [mask], f"{out}/keep", to=BOOL) if mask is not None else None
    if band is not None:
        keep = band if keep is None else ctx.add("And", [keep, band], f"{out}/keep_band")
    if keep is not None and not additive:
        x = ctx.add("Where", [keep, x, fill], f"{out}/filled")
    axes = sorted({int(ax) % rank for ax in a.get("axes", [-1])})
    zero_masked = keep is not None and bool(a.get("zero_masked", False))
    probs = _softmax(ctx, x, x_value, axes, f"{out}/probs" if zero_masked else out)
    if zero_masked:
        probs = ctx.add("Where", [keep, probs, scalar(ctx, 0.0, "zero_f")], out)
    ctx.set(out, probs, CL)
