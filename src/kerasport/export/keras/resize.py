"""Keras 3 emitters for kerasport/ops/resize.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import EmitContext, Emitted, emitter, require
from kerasport.ir.graph import Node


@emitter("Repeat")
def emit_repeat(ctx: EmitContext, node: Node) -> Emitted:
    """Repeating every spatial axis by an integer factor: UpSampling{1,2,3}D (nearest)."""
    repeats = [int(x) for x in node.attrs.get("repeats", (2,))]
    r = ctx.rank(node.inputs[0]) - 2
    require(len(repeats) == r and r in (1, 2, 3), "a repeat of other than every spatial axis "
            "has no Keras layer here", "repeats")
    config: dict = {"size": repeats[0] if r == 1 else repeats}
    if r == 2:
        config["interpolation"] = "nearest"
    if r > 1:
        config["data_format"] = "channels_last"
    return Emitted(f"UpSampling{r}D", config, [node.inputs[0]])


@emitter("Resize")
def emit_resize(ctx: EmitContext, node: Node) -> Emitted:
    """A 2-D resize (nearest or bilinear, half-pixel centres): Resizing."""
    size = [int(x) for x in node.attrs.get("size", (1, 1))]
    method = node.attrs.get("method", "nearest")
    require(len(size) == 2 and ctx.rank(node.inputs[0]) == 4, "only 2-D resizing has a Keras "
            "layer", "size")
    require(method in ("nearest", "bilinear"), f"interpolation {method!r} is not written here",
            "method")
    return Emitted("Resizing", {"height": size[0], "width": size[1], "interpolation": method,
                                "crop_to_aspect_ratio": False,
                                "data_format": "channels_last"}, [node.inputs[0]])
