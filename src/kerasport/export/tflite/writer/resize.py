"""Resizing: RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (half-pixel centres, as
tf.image.resize), UpSampling's integer repeats as a nearest resize."""

from __future__ import annotations

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import expand, reshape, squeeze
from kerasport.export.tflite.writer.helpers import (
    alias,
    ints,
    options,
    read,
    temp,
    tshape,
    write,
)
from kerasport.ir.graph import Node


def _resize(ctx: TFLiteContext, node: Node, x: int, size: list[int], method: str,
            half_pixel: bool) -> None:
    """2-D resize of ``x`` (1-D inputs over a width axis of 1) into the node's output."""
    out = write(ctx, node.outputs[0])
    one_d = len(size) == 1
    if one_d:
        x = expand(ctx, x, 2)
        size = [size[0], 1]
    code, kind = (("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions")
                  if method == "nearest" else ("RESIZE_BILINEAR", "ResizeBilinearOptions"))
    opts = options(kind, alignCorners=False, halfPixelCenters=half_pixel)
    if not one_d:
        ctx.op(code, [x, ints(ctx, size, "size")], [out], opts)
        return
    shape = tshape(ctx, out)
    mid = temp(ctx, f"{node.outputs[0]}/2d", [shape[0], shape[1], 1, shape[2]])
    ctx.op(code, [x, ints(ctx, size, "size")], [mid], opts)
    squeeze(ctx, mid, 2, out)


@emitter("Resize")
def resize(ctx: TFLiteContext, node: Node) -> None:
    """'nearest' or 'bilinear' over 1 or 2 spatial axes."""
    size = list(node.attrs.get("size", (1, 1)))
    method = node.attrs.get("method", "nearest")
    if method not in ("nearest", "bilinear") or len(size) > 2:
        raise KerasportError(f"layer '{node.layer}': {len(size)}-D '{method}' resizing has no "
                             "TFLite operator (nearest and bilinear in 1-D or 2-D do)")
    _resize(ctx, node, read(ctx, node.inputs[0]), size, method, True)


@emitter("Repeat")
def repeat(ctx: TFLiteContext, node: Node) -> None:
    """Integer upsampling: a nearest resize (1-D, 2-D with known sizes), else TILE per axis."""
    repeats = list(node.attrs.get("repeats", (2,)))
    shape = ctx.shape(node.outputs[0])
    if len(repeats) <= 2 and len(shape) == len(repeats) + 2 and None not in shape[1:-1]:
        _resize(ctx, node, read(ctx, node.inputs[0]), list(shape[1:-1]), "nearest", False)
        return
    x = read(ctx, node.inputs[0])
    for i, r in enumerate(repeats):
        if r != 1:
            x = _repeat_axis(ctx, x, 1 + i, r)
    alias(ctx, node.outputs[0], x)


def _repeat_axis(ctx: TFLiteContext, x: int, axis: int, r: int) -> int:
    """Each element repeated ``r`` times along ``axis``: EXPAND_DIMS after it, TILE, RESHAPE
    merging the two axes."""
    shape = tshape(ctx, x)
    tiled_shape = [*shape[:axis + 1], r, *shape[axis + 1:]]
    tiled = temp(ctx, f"{ctx.tensors[x].name}/tiled", tiled_shape, ctx.tensors[x].dtype)
    ctx.op("TILE", [expand(ctx, x, axis + 1), ints(ctx, [r if i == axis + 1 else 1
                                                           for i in range(len(shape) + 1)])],
           [tiled])
    size = shape[axis]
    return reshape(ctx, tiled, [*shape[:axis], None if size is None else size * r,
                                *shape[axis + 1:]])
