"""Time-major layout for the ONNX emitters of sequences and masks.

ONNX Runtime runs recurrent ops time-major only, so a sequence that feeds one is held
time-major (``TM`` in context.py: (N, T, ...) as (T, N, ...)) from where it is made: Embedding
gathers with transposed token ids, masks are computed time-major, and TimeDistributed folds
time-major when its input already is. Which values those are is decided once, before the
emitters run (passes.time_major_values, read here through ``ctx.plan``). A batch-major op
that meets such a value gets one Transpose (context.get).

Masks are float32 0/1 tensors (N, T), as in ops/mask.py; one that only recurrent ops read
stays bool.
"""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CL, TIME_MAJOR, TM, ExportContext
from kerasport.export.onnx.helpers import BOOL, FLOAT
from kerasport.ir.graph import Node
from kerasport.ops import get_op

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def consumers(ctx: ExportContext, value: str) -> list[Node]:
    """IR nodes that read ``value``."""
    return [n for n in ctx.graph.nodes if value in n.inputs]


def used(ctx: ExportContext, value: str) -> bool:
    """True if ``value`` is read by a node or is a graph output."""
    return value in ctx.graph.outputs or bool(consumers(ctx, value))


def mask_index(op: str) -> int:
    """Position of the optional mask among a recurrent op's inputs (its ``mask_input``)."""
    index = get_op(op).traits.mask_input
    if index is None:
        raise KerasportError(f"op '{op}' takes no mask")
    return index


def time_major_recurrent(op: str) -> bool:
    """True for the recurrent ops whose ONNX emitter runs time-major (ConvLSTM's Scan takes
    its input batch-major; see conv_recurrent.py)."""
    return get_op(op).traits.recurrent and op in TIME_MAJOR


def wants_time_major(ctx: ExportContext, value: str) -> bool:
    """True if ``value`` reaches a recurrent op (as its sequence or its mask) directly or
    through ops that follow their input's layout (passes.time_major_values)."""
    return value in ctx.plan.time_major


def has_tm(ctx: ExportContext, value: str) -> bool:
    """True if ``value`` is already held time-major."""
    return ctx.held.holds(value, TM)


def time_major_for(ctx: ExportContext, x: str, out: str, min_rank: int = 2) -> str:
    """TM if ``x`` already is, or if ``out`` is headed for a recurrent op; else CL."""
    if ctx.rank(x) >= min_rank and (has_tm(ctx, x) or wants_time_major(ctx, out)):
        return TM
    return CL


def time_axis(axis: int, rank: int, layout: str) -> int:
    """A channels-last axis index in CL or TM."""
    axis %= rank
    return {0: 1, 1: 0}.get(axis, axis) if layout == TM else axis


def reverse_axis(ctx: ExportContext, x: str, axis: int, base: str) -> str:
    """``x`` (an ONNX name) reversed along ``axis``: Slice with step -1."""
    return ctx.add("Slice", [x, ctx.ints([-1], "starts"), ctx.ints([INT64_MIN], "ends"),
                             ctx.ints([axis], "axes"), ctx.ints([-1], "steps")], base)


def nonzero(ctx: ExportContext, x: str, base: str) -> str:
    """bool tensor ``x != 0`` (NaN counts as non-zero, as in NumPy)."""
    return ctx.add("Cast", [x], base, to=BOOL)


def bool_of(ctx: ExportContext, value: str, layout: str, base: str) -> str:
    """IR ``value`` != 0 as bool in ``layout`` (a mask's cached bool form when there is one)."""
    if layout == TM and value in ctx.held.mask_bools:
        return ctx.held.mask_bools[value]
    return nonzero(ctx, ctx.get(value, layout), base)


def _only_recurrent_masks(ctx: ExportContext, value: str) -> bool:
    readers = consumers(ctx, value)
    return bool(readers) and value not in ctx.graph.outputs and all(
        time_major_recurrent(n.op) and n.inputs[0] != value and value in n.inputs[mask_index(n.op):]
        for n in readers)


def set_mask(ctx: ExportContext, out: str, bools: str, layout: str, to: int = FLOAT) -> None:
    """Record a 0/1 mask from its bool form; a time-major mask that only recurrent ops read
    stays bool (they need nothing else)."""
    if layout == TM:
        ctx.held.mask_bools[out] = bools
        if _only_recurrent_masks(ctx, out):
            return
    ctx.set(out, ctx.add("Cast", [bools], out, to=to), layout)


