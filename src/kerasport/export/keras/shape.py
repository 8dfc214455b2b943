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


def _spatial_pairs(ctx: EmitContext, node: Node, pairs, what: str) -> list[list[int]]:
    rank = ctx.rank(node.inputs[0])
    pairs = [[int(b), int(a)] for b, a in pairs]
    require(len(pairs) == rank and rank in (3, 4, 5) and pairs[0] == [0, 0]
            and pairs[-1] == [0, 0], f"{what} of the batch or channel axis has no Keras layer")
    return pairs[1:-1]


@emitter("Pad")
def emit_pad(ctx: EmitContext, node: Node) -> Emitted:
    """ZeroPadding{1,2,3}D (zeros, spatial axes only)."""
    require(float(node.attrs.get("value", 0.0)) == 0.0, "padding with a value other than 0 "
            "has no Keras layer", "value")
    pads = _spatial_pairs(ctx, node, node.attrs.get("pads", ()), "padding")
    config: dict = {"padding": pads[0]}
    if len(pads) > 1:
        config = {"padding": pads, "data_format": "channels_last"}
    return Emitted(f"ZeroPadding{len(pads)}D", config, [node.inputs[0]])


@emitter("Crop")
def emit_crop(ctx: EmitContext, node: Node) -> Emitted:
    """Cropping{1,2,3}D (spatial axes only)."""
    crops = _spatial_pairs(ctx, node, node.attrs.get("crops", ()), "cropping")
    config = {"cropping": crops[0] if len(crops) == 1 else crops}
    if len(crops) > 1:
        config["data_format"] = "channels_last"
    return Emitted(f"Cropping{len(crops)}D", config, [node.inputs[0]])


@emitter("Gather")
def emit_gather(ctx: EmitContext, node: Node) -> Emitted:
    """Rows of a stored table at computed indices: Embedding."""
    table = ctx.weight(node, 0, "table")
    require(table.ndim == 2 and ctx.const(node.inputs[1]) is None,
            "only a stored 2-D table gathered at computed indices is an Embedding")
    return Emitted("Embedding", {"input_dim": int(table.shape[0]),
                                 "output_dim": int(table.shape[1])}, [node.inputs[1]], [table])
