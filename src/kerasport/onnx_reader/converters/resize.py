"""Resize: nearest neighbour by integer factors, or linear with half-pixel centres, on the
spatial axes held channels-last."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported, channels_last
from kerasport.onnx_reader.helpers import optional, out
from kerasport.onnx_reader.registry import converter

_NEAREST_OK = {("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
               ("half_pixel", "round_prefer_ceil"), ("half_pixel", "floor"),
               ("pytorch_half_pixel", "round_prefer_floor"), ("asymmetric", "round_prefer_floor"),
               ("pytorch_half_pixel", "floor")}


def _out_sizes(ctx: ReadContext, node: Any, dims: tuple) -> list[int]:
    sizes_name, scales_name = optional(node, 3), optional(node, 2)
    if sizes_name:
        return [int(v) for v in np.asarray(ctx.const(sizes_name, "sizes")).reshape(-1)]
    if not scales_name:
        raise Unsupported("neither scales nor sizes given")
    scales = np.asarray(ctx.const(scales_name, "scales"), np.float64).reshape(-1)
    if None in dims[2:]:
        raise Unsupported("resizing a free spatial dim")
    sizes = [d if i < 2 and s == 1 else int(np.floor(d * s)) for i, (d, s) in
             enumerate(zip(dims, scales))]
    if any(abs(o / d - s) > 1e-6 for o, d, s in zip(sizes[2:], dims[2:], scales[2:])):
        # ONNX maps coordinates with the scale given, kerasport with out/in
        raise Unsupported(f"scales {list(scales)} that are not output/input size ratios")
    return sizes


@converter("Resize")
def resize(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Resize (mode nearest or linear) -> IR Resize(size, method)."""
    x = node.input[0]
    dims = ctx.shape(x)
    if dims is None or len(dims) < 3:
        raise Unsupported("needs an input of rank >= 3")
    sizes = _out_sizes(ctx, node, dims)
    if list(sizes[:2]) != list(dims[:2]) and not (dims[0] is None and sizes[1] == dims[1]):
        raise Unsupported("resizing the batch or channel axis")
    mode = attrs.get("mode", "nearest")
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    if attrs.get("antialias", 0) or attrs.get("exclude_outside", 0) or len(sizes) > 5:
        raise Unsupported("antialias / exclude_outside are not supported")
    spatial = list(sizes[2:])
    if mode == "nearest":
        near = attrs.get("nearest_mode", "round_prefer_floor")
        if (coord, near) not in _NEAREST_OK or any(
                s % d for s, d in zip(spatial, dims[2:])):
            raise Unsupported(f"nearest resize by non-integer factors or with "
                              f"{coord}/{near}")
        method = "nearest"
    elif mode == "linear" and coord in ("half_pixel", "pytorch_half_pixel"):
        if coord == "pytorch_half_pixel" and min(spatial) <= 1:
            raise Unsupported("pytorch_half_pixel to size 1")
        method = "bilinear"
    else:
        raise Unsupported(f"mode '{mode}' with '{coord}' coordinates")
    perm = channels_last(len(dims))
    y = ctx.op("Resize", [ctx.ir(x, perm)], out(node), {"size": spatial, "method": method})
    ctx.set(out(node), y, perm)
