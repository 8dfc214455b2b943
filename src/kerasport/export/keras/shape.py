"""Keras 3 emitters for kerasport/ops/shape.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import EmitContext, Emitted, emitter, require
from kerasport.ir.graph import Node


@emitter("Flatten")
def emit_flatten(ctx: EmitContext, node: Node) -> Emitted:
    """Flatten."""
    return Emitted("Flatten", {"data_format": "channels_last"}, [node.inputs[0]])


@emitter("Reshape")
def emit_reshape(ctx: EmitContext, node: Node) -> Emitted:
    """Reshape(target_shape): the IR's shape is already without the batch axis."""
    return Emitted("Reshape", {"target_shape": [int(d) for d in node.attrs.get("shape", (-1,))]},
                   [node.inputs[0]])


@emitter("Transpose")
def emit_transpose(ctx: EmitContext, node: Node) -> Emitted:
    """Permute(dims), when the batch axis stays first."""
    perm = [int(p) for p in node.attrs.get("perm", (0,))]
    require(perm[:1] == [0], "a transpose that moves the batch axis has no Keras layer", "perm")
    return Emitted("Permute", {"dims": perm[1:]}, [node.inputs[0]])


@emitter("Concat")
def emit_concat(ctx: EmitContext, node: Node) -> Emitted:
    """Concatenate(axis)."""
    require(all(ctx.const(v) is None for v in node.inputs),
            "concatenating a stored tensor has no Keras layer")
    return Emitted("Concatenate", {"axis": int(node.attrs.get("axis", -1))}, list(node.inputs),
                   merge=True)
