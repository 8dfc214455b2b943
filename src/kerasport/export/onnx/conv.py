"""ONNX emitters for the convolutions: Conv, DepthwiseConv (a grouped Conv) and ConvTranspose,
channels-first."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, ExportContext, emitter
from kerasport.export.onnx.helpers import onnx_conv_kernel, value_pads
from kerasport.ir.graph import Node
from kerasport.ops.conv import transpose_out_size


def _weight(ctx: ExportContext, node: Node, i: int) -> np.ndarray:
    name = node.inputs[i]
    if not ctx.is_const(name):
        raise KerasportError(f"layer '{node.layer}': {node.op} with a computed kernel cannot be "
                             "exported to ONNX")
    return ctx.graph.constants[name]


def _bias(ctx: ExportContext, node: Node) -> list[str]:
    return [ctx.get(node.inputs[2], CL)] if len(node.inputs) > 2 else []


@emitter("Conv")
def conv(ctx: ExportContext, node: Node) -> None:
    """Conv: Keras kernel (*k, C/g, F) -> ONNX (F, C/g, *k)."""
    w = _weight(ctx, node, 1)
    r = w.ndim - 2
    a = node.attrs
    strides, dilations = a.get("strides", [1] * r), a.get("dilations", [1] * r)
    kernel = ctx.const(onnx_conv_kernel(w), f"{node.inputs[1]}__onnx")
    y = ctx.add("Conv", [ctx.get(node.inputs[0], CF), kernel, *_bias(ctx, node)],
                node.outputs[0], kernel_shape=list(w.shape[:r]), strides=strides,
                dilations=dilations, group=a.get("groups", 1),
                **value_pads(ctx, node.inputs[0], w.shape[:r], strides, dilations,
                        a.get("padding", "valid")))
    ctx.set(node.outputs[0], y, CF)


@emitter("DepthwiseConv")
def depthwise(ctx: ExportContext, node: Node) -> None:
    """Depthwise conv as a grouped Conv: kernel (*k, C, M) -> (C*M, 1, *k), group C."""
    w = _weight(ctx, node, 1)
    r = w.ndim - 2
    c, m = w.shape[-2], w.shape[-1]
    a = node.attrs
    strides, dilations = a.get("strides", [1] * r), a.get("dilations", [1] * r)
    flat = w.reshape(*w.shape[:r], 1, c * m)
    kernel = ctx.const(onnx_conv_kernel(flat), f"{node.inputs[1]}__onnx")
    y = ctx.add("Conv", [ctx.get(node.inputs[0], CF), kernel, *_bias(ctx, node)],
                node.outputs[0], kernel_shape=list(w.shape[:r]), strides=strides,
                dilations=dilations, group=c,
                **value_pads(ctx, node.inputs[0], w.shape[:r], strides, dilations,
                        a.get("padding", "valid")))
    ctx.set(node.outputs[0], y, CF)


@emitter("ConvTranspose")
def conv_transpose(ctx: ExportContext, node: Node) -> None:
    """ConvTranspose: Keras kernel (*k, F, C) -> ONNX (C, F, *k), explicit pads."""
    w = _weight(ctx, node, 1)
    r = w.ndim - 2
    a = node.attrs
    ksize = w.shape[:r]
    strides, dilations = a.get("strides", [1] * r), a.get("dilations", [1] * r)
    padding = a.get("padding", "valid")
    sizes = ctx.shape(node.inputs[0])[1:1 + r]
    if None in sizes:
        raise KerasportError(f"layer '{node.layer}': ConvTranspose needs known spatial sizes "
                             "for ONNX export")
    out_pad = a.get("output_padding") or [None] * r
    begin, end, extra = [], [], []
    for s, k, st, d, op in zip(sizes, ksize, strides, dilations, out_pad):
        full = (s - 1) * st + (k - 1) * d + 1
        length = transpose_out_size(s, k, st, d, padding, op)
        b = 0 if padding == "valid" else max(full - length, 0) // 2
        begin.append(b)
        end.append(max(full - b - length, 0))
        extra.append(max(length - (full - b), 0))
    kernel = ctx.const(onnx_conv_kernel(w), f"{node.inputs[1]}__onnx")
    y = ctx.add("ConvTranspose", [ctx.get(node.inputs[0], CF), kernel, *_bias(ctx, node)],
                node.outputs[0], kernel_shape=list(ksize), strides=strides,
                dilations=dilations, pads=begin + end, output_padding=extra)
    ctx.set(node.outputs[0], y, CF)




@emitter("SpatialPad")
def spatial_pad(ctx: ExportContext, node: Node) -> None:
    """Pad of the spatial axes, in whichever layout the input is held (channels-first when it
    is, like the convolution after it)."""
    x = node.inputs[0]
    layout = CF if CF in ctx.layouts(x) and ctx.rank(x) >= 3 else CL
    margins = [tuple(m) for m in node.attrs.get("margins", [])]
    pairs = [(0, 0), (0, 0), *margins] if layout == CF else [(0, 0), *margins, (0, 0)]
    pads = ctx.ints([p[0] for p in pairs] + [p[1] for p in pairs], "pads")
    value = ctx.const(np.asarray(node.attrs.get("value", 0.0), np.float32), "pad_value")
    ctx.set(node.outputs[0], ctx.add("Pad", [ctx.get(x, layout), pads, value], node.outputs[0],
                                     mode="constant"), layout)
