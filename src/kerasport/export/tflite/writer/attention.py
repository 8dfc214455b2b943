"""Attention: the products are MatMul / Einsum (linalg); the masked softmax here: the mask
expanded to the scores' rank, the causal triangle and window band as constants, masked scores
replaced (SELECT_V2) or pushed down (additive), SOFTMAX over the last axis."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import expand
from kerasport.export.tflite.writer.helpers import (
    alias,
    bi,
    const,
    ints,
    options,
    read,
    scalar,
    schema,
    select,
    temp,
    tshape,
    un,
)
from kerasport.export.tflite.writer.mask import cast, nonzero
from kerasport.ir.graph import Node
from kerasport.ops.attention import _structural


def _keep(ctx: TFLiteContext, node: Node, rank: int) -> int | None:
    """The mask input (boolean, expanded to ``rank``), or None."""
    if len(node.inputs) < 2 or not node.inputs[1]:
        return None
    m = read(ctx, node.inputs[1])
    axis = node.attrs.get("expand_axis", 1)
    while len(tshape(ctx, m)) < rank:
        m = expand(ctx, m, axis % (len(tshape(ctx, m)) + 1))
    return m


def _band(ctx: TFLiteContext, x: int, causal: bool, window: int) -> int | None:
    """The (T, S) boolean causal triangle / window band of scores ``x``: a constant for
    known lengths, else built at run time from RANGEs over the scores' last two dims."""
    if not causal and not window:
        return None
    shape = tshape(ctx, x)
    if None not in shape[-2:]:
        return const(ctx, _structural(shape[-2], shape[-1], causal, window), "band", "bool")
    r = len(shape)
    dyn = temp(ctx, f"{ctx.tensors[x].name}/shape", [r], "int32")
    ctx.op("SHAPE", [x], [dyn], options("ShapeOptions", outType=schema().TensorType.INT32))
    zero, one = (const(ctx, np.asarray(v, np.int32), "k", "int32") for v in (0, 1))
    idx = []
    for axis in (r - 2, r - 1):
        n = temp(ctx, f"{ctx.tensors[x].name}/len{axis}", [], "int32")
        ctx.op("STRIDED_SLICE", [dyn, ints(ctx, [axis]), ints(ctx, [axis + 1]), ints(ctx, [1])],
               [n], options("StridedSliceOptions", shrinkAxisMask=1))
        seq = temp(ctx, f"{ctx.tensors[x].name}/range{axis}", [shape[axis]], "int32")
        ctx.op("RANGE", [zero, n, one], [seq])
        idx.append(expand(ctx, seq, 1 if axis == r - 2 else 0))
    i, j = idx  # (T, 1) and (1, S)
    d = bi(ctx, "SUB", i, j)  # i - j, (T, S)
    keep = bi(ctx, "GREATER_EQUAL", d, zero, "bool") if causal else None
    if window:
        dist = bi(ctx, "MAXIMUM", d, un(ctx, "NEG", d))
        near = bi(ctx, "LESS", dist, const(ctx, np.asarray(window, np.int32), "w", "int32"),
                  "bool")
        keep = near if keep is None else bi(ctx, "LOGICAL_AND", keep, near, "bool")
    return keep


@emitter("MaskedSoftmax")
def masked_softmax(ctx: TFLiteContext, node: Node) -> None:
    """Softmax over the last axis of scores with masked positions set to ``fill`` (or, with
    ``additive``, (1 - mask) * fill added); ``zero_masked`` zeroes them afterwards."""
    x = read(ctx, node.inputs[0])
    shape = tshape(ctx, x)
    r = len(shape)
    if [a % r for a in node.attrs.get("axes", (-1,))] != [r - 1]:
        raise KerasportError(f"layer '{node.layer}': a masked softmax over axes "
                             f"{node.attrs.get('axes')} has no TFLite form (the last axis does)")
    band = _band(ctx, x, node.attrs.get("causal", False), node.attrs.get("window", 0))
    fill = float(node.attrs.get("fill", -1e9))
    m = _keep(ctx, node, r)
    if node.attrs.get("additive") and (m is not None or band is not None):
        mf = cast(ctx, m, "float32") if m is not None else None
        if band is not None:
            b = cast(ctx, band, "float32")
            mf = b if mf is None else bi(ctx, "MUL", mf, b)
        push = bi(ctx, "MUL", bi(ctx, "SUB", scalar(ctx, 1.0), mf), scalar(ctx, fill))
        x = bi(ctx, "ADD", x, push) if len(shape) >= len(tshape(ctx, push)) else \
            bi(ctx, "ADD", push, x)
    keep = None if m is None else nonzero(ctx, m)
    if band is not None:
        keep = band if keep is None else bi(ctx, "LOGICAL_AND", keep, band, "bool")
    if keep is not None and not node.attrs.get("additive"):
        x = select(ctx, keep, x, scalar(ctx, fill))
    y = un(ctx, "SOFTMAX", x, options("SoftmaxOptions", beta=1.0))
    if keep is not None and node.attrs.get("zero_masked"):
        y = bi(ctx, "MUL", y, cast(ctx, keep, "float32"))
    alias(ctx, node.outputs[0], y)
