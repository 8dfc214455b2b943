"""ONNX emitters for the resize ops: Resize (UpSampling, Resizing) and Repeat."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, ExportContext, emitter
from kerasport.ir.graph import Node


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
