"""Keras 3 emitters for kerasport/ops/pool.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import (
    EmitContext,
    Emitted,
    emitter,
    padding,
    require,
    spatial_rank,
)
from kerasport.ir.graph import Node


@emitter("Pool")
def emit_pool(ctx: EmitContext, node: Node) -> Emitted:
    """MaxPooling / AveragePooling {1,2,3}D ('same' averages exclude the padding, as the
    IR op)."""
    r = spatial_rank(ctx, node)
    a = node.attrs
    kind = "MaxPooling" if a.get("mode", "max") == "max" else "AveragePooling"
    config = {"pool_size": list(a.get("pool_size", (2,) * r)),
              "strides": list(a.get("strides", (2,) * r)),
              "padding": padding(a.get("padding", "valid")), "data_format": "channels_last"}
    return Emitted(f"{kind}{r}D", config, [node.inputs[0]])


@emitter("Reduce")
def emit_reduce(ctx: EmitContext, node: Node) -> Emitted:
    """A mean/max over every spatial axis: GlobalAveragePooling / GlobalMaxPooling."""
    r = spatial_rank(ctx, node)
    axes = sorted(int(x) % (r + 2) for x in node.attrs.get("axes", (1,)))
    require(axes == list(range(1, r + 1)), f"a reduction over axes {axes} has no Keras layer "
            "(only over every spatial axis)", "axes")
    kind = "GlobalMaxPooling" if node.attrs.get("mode") == "max" else "GlobalAveragePooling"
    return Emitted(f"{kind}{r}D", {"data_format": "channels_last",
                                   "keepdims": bool(node.attrs.get("keepdims", False))},
                   [node.inputs[0]])
