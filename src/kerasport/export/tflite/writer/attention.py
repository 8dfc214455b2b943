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
    options,
    read,
    scalar,
    select,
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
    causal, window = node.attrs.get("causal", False), node.attrs.get("window", 0)
    band = None
    if causal or window:
        if None in shape[-2:]:
            raise KerasportError(f"layer '{node.layer}': a causal / windowed attention mask "
                                 "needs known sequence lengths in TFLite")
        band = _structural(shape[-2], shape[-1], causal, window)
    fill = float(node.attrs.get("fill", -1e9))
    m = _keep(ctx, node, r)
    if node.attrs.get("additive") and (m is not None or band is not None):
        mf = cast(ctx, m, "float32") if m is not None else None
        if band is not None:
            b = const(ctx, band.astype(np.float32), "band")
            mf = b if mf is None else bi(ctx, "MUL", mf, b)
        push = bi(ctx, "MUL", bi(ctx, "SUB", scalar(ctx, 1.0), mf), scalar(ctx, fill))
        x = bi(ctx, "ADD", x, push) if len(shape) >= len(tshape(ctx, push)) else \
            bi(ctx, "ADD", push, x)
    keep = None if m is None else nonzero(ctx, m)
    if band is not None:
        b = const(ctx, band, "band", "bool")
        keep = b if keep is None else bi(ctx, "LOGICAL_AND", keep, b, "bool")
    if keep is not None and not node.attrs.get("additive"):
        x = select(ctx, keep, x, scalar(ctx, fill))
    y = un(ctx, "SOFTMAX", x, options("SoftmaxOptions", beta=1.0))
    if keep is not None and node.attrs.get("zero_masked"):
        y = bi(ctx, "MUL", y, cast(ctx, keep, "float32"))
    alias(ctx, node.outputs[0], y)
