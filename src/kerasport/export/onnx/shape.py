"""ONNX emitters for data movement: reshape, transpose, pad, crop, concatenate, resize."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, ExportContext, emitter, to_cf
from kerasport.ir.graph import Node

INT64_MAX = np.iinfo(np.int64).max


@emitter("Reshape")
def reshape(ctx: ExportContext, node: Node) -> None:
    """Reshape the non-batch dims (channels-last order); 0 keeps the batch."""
    shape = ctx.ints([0, *node.attrs.get("shape", [-1])], "shape")
    ctx.set(node.outputs[0], ctx.add("Reshape", [ctx.get(node.inputs[0], CL), shape],
                                     node.outputs[0]), CL)


@emitter("Flatten")
def flatten(ctx: ExportContext, node: Node) -> None:
    """Flatten to (N, -1) in channels-last order."""
    ctx.set(node.outputs[0], ctx.add("Flatten", [ctx.get(node.inputs[0], CL)], node.outputs[0],
                                     axis=1), CL)


@emitter("Transpose")
def transpose(ctx: ExportContext, node: Node) -> None:
    """Transpose(perm) of the channels-last tensor (composed with a channels-first input's
    layout, so no extra transpose is added)."""
    x = node.inputs[0]
    perm = list(node.attrs.get("perm", [0]))
    rank = ctx.rank(x)
    if CF in ctx.layouts(x) and rank >= 3:
        perm = [to_cf(rank).index(p) for p in perm]
        src = ctx.get(x, CF)
    else:
        src = ctx.get(x, CL)
    ctx.set(node.outputs[0], ctx.add("Transpose", [src], node.outputs[0], perm=perm), CL)


def _layout_for(ctx: ExportContext, x: str) -> str:
    return CF if CF in ctx.layouts(x) and ctx.rank(x) >= 3 else CL


def _permute_pairs(pairs: list, rank: int, layout: str) -> list:
    return [pairs[p] for p in to_cf(rank)] if layout == CF else list(pairs)


@emitter("Pad")
def pad(ctx: ExportContext, node: Node) -> None:
    """Constant padding."""
    x = node.inputs[0]
    rank = ctx.rank(x)
    layout = _layout_for(ctx, x)
    pairs = _permute_pairs([tuple(p) for p in node.attrs.get("pads")], rank, layout)
    pads = ctx.ints([p[0] for p in pairs] + [p[1] for p in pairs], "pads")
    value = ctx.const(np.asarray(node.attrs.get("value", 0.0), np.float32), "pad_value")
    ctx.set(node.outputs[0], ctx.add("Pad", [ctx.get(x, layout), pads, value], node.outputs[0],
                                     mode="constant"), layout)


@emitter("Crop")
def crop(ctx: ExportContext, node: Node) -> None:
    """Cropping as Slice (ends counted from the end of each axis)."""
    x = node.inputs[0]
    rank = ctx.rank(x)
    layout = _layout_for(ctx, x)
    pairs = _permute_pairs([tuple(p) for p in node.attrs.get("crops")], rank, layout)
    axes = [i for i, (b, a) in enumerate(pairs) if b or a]
    if not axes:
        ctx.set(node.outputs[0], ctx.get(x, layout), layout)
        return
    starts = ctx.ints([pairs[i][0] for i in axes], "starts")
    ends = ctx.ints([-pairs[i][1] if pairs[i][1] else INT64_MAX for i in axes], "ends")
    y = ctx.add("Slice", [ctx.get(x, layout), starts, ends, ctx.ints(axes, "axes")],
                node.outputs[0])
    ctx.set(node.outputs[0], y, layout)


@emitter("Concat")
def concat(ctx: ExportContext, node: Node) -> None:
    """Concatenate in the first input's layout (axis remapped)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(list(node.inputs)) if rank >= 3 else CL
    axis = ctx.axis(int(node.attrs.get("axis", -1)), rank, layout)
    y = ctx.add("Concat", [ctx.get(v, layout) for v in node.inputs], node.outputs[0], axis=axis)
    ctx.set(node.outputs[0], y, layout)


def _resize(ctx: ExportContext, node: Node, scales: list[float] | None, sizes: list[int] | None,
            mode: str, transform: str, nearest_mode: str = "floor") -> None:
    x = node.inputs[0]
    r = ctx.rank(x) - 2
    xin = ctx.get(x, CF)
    empty = ctx.const(np.zeros(0, np.float32), "roi")
    if sizes is not None:
        head = ctx.add("Slice", [ctx.add("Shape", [xin], f"{node.outputs[0]}/shape"),
                                 ctx.ints([0]), ctx.ints([2])], f"{node.outputs[0]}/nc")
        size = ctx.add("Concat", [head, ctx.ints(sizes, "sizes")], f"{node.outputs[0]}/sizes",
                       axis=0)
        inputs = [xin, empty, ctx.const(np.zeros(0, np.float32), "scales"), size]
    else:
        inputs = [xin, empty, ctx.const(np.asarray([1, 1, *scales], np.float32), "scales")]
    y = ctx.add("Resize", inputs, node.outputs[0], mode=mode,
                coordinate_transformation_mode=transform, nearest_mode=nearest_mode)
    assert r >= 1
    ctx.set(node.outputs[0], y, CF)


@emitter("Resize")
def resize(ctx: ExportContext, node: Node) -> None:
    """Resize with TensorFlow's half-pixel conventions."""
    method = node.attrs.get("method", "nearest")
    sizes = list(node.attrs.get("size"))
    if method == "nearest":
        _resize(ctx, node, None, sizes, "nearest", "tf_half_pixel_for_nn", "floor")
    elif method == "bilinear":
        _resize(ctx, node, None, sizes, "linear", "half_pixel")
    else:
        raise KerasportError(f"layer '{node.layer}': resize method {method} has no ONNX form")


@emitter("Repeat")
def repeat(ctx: ExportContext, node: Node) -> None:
    """Nearest upsampling by integer factors: Resize with exact integer scales."""
    scales = [float(r) for r in node.attrs.get("repeats")]
    scales += [1.0] * (ctx.rank(node.inputs[0]) - 2 - len(scales))  # GQA repeats axis 1 only
    _resize(ctx, node, scales, None, "nearest", "asymmetric", "floor")


@emitter("Slice")
def slice_(ctx: ExportContext, node: Node) -> None:
    """Slice with starts/ends/axes/steps as int64 inputs (channels-last axes)."""
    a = node.attrs
    big = [min(max(int(v), -INT64_MAX), INT64_MAX) for v in a.get("ends", [0])]
    ins = [ctx.get(node.inputs[0], CL), ctx.ints(list(a.get("starts", [0])), "starts"),
           ctx.ints(big, "ends"), ctx.ints(list(a.get("axes", [0])), "axes"),
           ctx.ints(list(a.get("steps", [1])), "steps")]
    ctx.set(node.outputs[0], ctx.add("Slice", ins, node.outputs[0]), CL)


@emitter("Take")
def take(ctx: ExportContext, node: Node) -> None:
    """Gather(axis) of the channels-last tensor."""
    x, idx = node.inputs
    ctx.set(node.outputs[0], ctx.add("Gather", [ctx.get(x, CL), ctx.get(idx, CL)],
                                     node.outputs[0], axis=int(node.attrs.get("axis", 0))), CL)


@emitter("Tile")
def tile(ctx: ExportContext, node: Node) -> None:
    """Tile with the repeats as an int64 input."""
    reps = ctx.ints(list(node.attrs.get("repeats", [1])), "repeats")
    ctx.set(node.outputs[0], ctx.add("Tile", [ctx.get(node.inputs[0], CL), reps],
                                     node.outputs[0]), CL)


@emitter("TakeAlong")
def take_along(ctx: ExportContext, node: Node) -> None:
    """GatherElements(axis) of the channels-last tensors."""
    x, idx = node.inputs
    ctx.set(node.outputs[0], ctx.add("GatherElements", [ctx.get(x, CL), ctx.get(idx, CL)],
                                     node.outputs[0], axis=int(node.attrs.get("axis", 0))), CL)


@emitter("SpatialPad")
def spatial_pad(ctx: ExportContext, node: Node) -> None:
    """Pad of the spatial axes, in whichever layout the input is held."""
    x = node.inputs[0]
    layout = _layout_for(ctx, x)
    margins = [tuple(m) for m in node.attrs.get("margins", [])]
    pairs = [(0, 0), (0, 0), *margins] if layout == CF else [(0, 0), *margins, (0, 0)]
    pads = ctx.ints([p[0] for p in pairs] + [p[1] for p in pairs], "pads")
    value = ctx.const(np.asarray(node.attrs.get("value", 0.0), np.float32), "pad_value")
    ctx.set(node.outputs[0], ctx.add("Pad", [ctx.get(x, layout), pads, value], node.outputs[0],
                                     mode="constant"), layout)
