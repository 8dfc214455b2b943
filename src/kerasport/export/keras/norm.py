"""Keras 3 emitters for kerasport/ops/norm.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import EmitContext, Emitted, emitter, require
from kerasport.ir.graph import Node


@emitter("LayerNorm")
def emit_layer_norm(ctx: EmitContext, node: Node) -> Emitted:
    """LayerNormalization(axis, epsilon) with the stored gamma (scale) and beta (center)."""
    a = node.attrs
    require(not a.get("rms_scaling"), "rms_scaling is deprecated in Keras", "rms_scaling")
    present = [i < len(node.inputs) and bool(node.inputs[i]) for i in (1, 2)]
    axes = [int(x) for x in a.get("axes", (-1,))]
    shape = ctx.graph.values[node.inputs[0]].shape or ()
    sizes = tuple(shape[x] for x in axes)  # Keras' variables: the normalized axes' sizes
    require(all(isinstance(d, int) for d in sizes), "the normalized axes' sizes are unknown")
    weights = [ctx.weight(node, i, what).reshape(sizes) for i, what, ok in
               zip((1, 2), ("gamma", "beta"), present) if ok]
    config = {"axis": axes[0] if len(axes) == 1 else axes,
              "epsilon": float(a.get("epsilon", 1e-3)), "center": present[1],
              "scale": present[0]}
    return Emitted("LayerNormalization", config, [node.inputs[0]], weights)
