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

from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, ExportContext, emitter, to_cl
from kerasport.export.onnx.helpers import BOOL, FLOAT, scalar
from kerasport.ir.graph import Node

# largest T * S of a causal / window mask stored as a constant (bytes of a bool initializer)
_MAX_CONST_BAND = 1 << 16


# -- MatMul, Einsum ---------------------------------------------------------------------------
def _only_use_of_transpose(ctx: ExportContext, value: str) -> Any | None:
    """The ONNX Transpose node that made ``value`` (channels-last) when this MatMul is the
    value's only reader, so that the swap can be folded into its permutation."""
    reads = sum(n.inputs.count(value) for n in ctx.graph.nodes)  # q @ q^T reads it twice
    if value in ctx.graph.outputs or reads != 1 or (value, CL) not in ctx.where:
        return None
    name = ctx.where[(value, CL)]
    if list(ctx.where.values()).count(name) > 1 or any(name in n.input for n in ctx.nodes):
        return None  # the tensor also stands for another value or layout, or is already read
    made = [n for n in ctx.nodes if name in n.output]
    return made[0] if made and made[0].op_type == "Transpose" else None


def _swap_last(ctx: ExportContext, value: str, base: str) -> str:
    """``value`` with its last two axes swapped (a transposed constant for weights; folded
    into the Transpose that made it, e.g. MultiHeadAttention's key heads)."""
    key = (value, "swap_last")
    if key not in ctx.where:
        rank = ctx.rank(value)
        perm = [*range(rank - 2), rank - 1, rank - 2]
        producer = None if ctx.is_const(value) else _only_use_of_transpose(ctx, value)
        if ctx.is_const(value):
            arr = np.swapaxes(ctx.graph.constants[value], -1, -2)
            ctx.where[key] = ctx.const(np.ascontiguousarray(arr), f"{value}__t")
        elif producer is not None:
            attr = next(at for at in producer.attribute if at.name == "perm")
            attr.ints[:] = [attr.ints[p] for p in perm]
            ctx.where[key] = ctx.where.pop((value, CL))  # no longer ``value`` as it was
        elif (value, CL) not in ctx.where and CF in ctx.layouts(value) and rank >= 3:
            back = to_cl(rank)  # held channels-first only: one Transpose straight from there
            ctx.where[key] = ctx.add("Transpose", [ctx.where[(value, CF)]], f"{base}/b_t",
                                     perm=[back[p] for p in perm])
        else:
            ctx.where[key] = ctx.add("Transpose", [ctx.get(value, CL)], f"{base}/b_t",
                                     perm=perm)
    return ctx.where[key]


@emitter("MatMul")
def matmul(ctx: ExportContext, node: Node) -> None:
    """a @ b (leading axes broadcast), a @ swap(b) with ``transpose_b``."""
    a, b = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    rhs = _swap_last(ctx, b, out) if node.attrs.get("transpose_b") else ctx.get(b, CL)
    ctx.set(out, ctx.add("MatMul", [ctx.get(a, CL), rhs], out), CL)


@emitter("Einsum")
def einsum(ctx: ExportContext, node: Node) -> None:
    """ONNX Einsum with the IR's equation (ellipsis included; ONNX Runtime runs every form the
    converters write: EinsumDense, Dot, the score reductions of Attention, MHA's general
    attention axes)."""
    equation = str(node.attrs.get("equation", "")).replace(" ", "")
    out = node.outputs[0]
    plan = _as_matmul(ctx, node, equation)
    if plan is not None:  # ONNX Runtime's Einsum is much slower than its MatMul
        kept, contracted, free_w = plan
        w = ctx.graph.constants[node.inputs[1]]
        x = ctx.get(node.inputs[0], CL)
        if ctx.rank(node.inputs[0]) != kept + 1:  # several contracted axes: flatten them
            x = ctx.add("Reshape", [x, ctx.ints([0] * kept + [contracted], f"{out}/rows")],
                        f"{out}/x2")
        flat = ctx.const(np.ascontiguousarray(w.reshape(contracted, -1)), f"{out}/w2")
        y = ctx.add("MatMul", [x, flat], f"{out}/mm")
        if len(free_w) != 1:
            y = ctx.add("Reshape", [y, ctx.ints([0] * kept + list(free_w), f"{out}/shape")],
                        out)
    else:
        y = ctx.add("Einsum", [ctx.get(v, CL) for v in node.inputs], out, equation=equation)
    ctx.set(out, y, CL)


def _as_matmul(ctx: ExportContext, node: Node,
               equation: str) -> tuple[int, int, tuple[int, ...]] | None:
    """For ``x, w -> y`` with a constant ``w`` whose leading letters are x's trailing ones
    (contracted) and y = x's other letters then w's others, in order (EinsumDense's usual
    forms): (x's kept axes, contracted size, w's free dims); else None."""
    if len(node.inputs) != 2 or not ctx.is_const(node.inputs[1]) or "..." in equation:
        return None
    ins, y = equation.split("->")
    parts = ins.split(",")
    if len(parts) != 2:
        return None
    xs, ws = parts
    w = ctx.graph.constants[node.inputs[1]]
    if len(set(xs)) != len(xs) or len(set(ws)) != len(ws):
        return None  # a diagonal
    k = len(set(xs) & set(ws))
    if k < 1 or ws[:k] != xs[len(xs) - k:] or y != xs[:len(xs) - k] + ws[k:]:
        return None
    return len(xs) - k, int(np.prod(w.shape[:k])), tuple(int(d) for d in w.shape[k:])


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


@emitter("CumSum")
def cum_sum(ctx: ExportContext, node: Node) -> None:
    """CumSum(x, axis) with exclusive and reverse, channels-last."""
    a = node.attrs
    axis = ctx.const(np.asarray(int(a.get("axis", 0)), np.int64), "axis")
    y = ctx.add("CumSum", [ctx.get(node.inputs[0], CL), axis], node.outputs[0],
                exclusive=int(bool(a.get("exclusive"))), reverse=int(bool(a.get("reverse"))))
    ctx.set(node.outputs[0], y, CL)


@emitter("Trilu")
def trilu(ctx: ExportContext, node: Node) -> None:
    """Trilu (opset 14) with k as an input."""
    if ctx.opset < 14:
        raise KerasportError("Trilu needs opset 14 or newer (--opset 14)")
    k = ctx.const(np.asarray(int(node.attrs.get("k", 0)), np.int64), "k")
    y = ctx.add("Trilu", [ctx.get(node.inputs[0], CL), k], node.outputs[0],
                upper=int(bool(node.attrs.get("upper", True))))
    ctx.set(node.outputs[0], y, CL)
