"""ONNX emitters for convolutions, pooling, global pooling and Dense (channels-first convs)."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, ExportContext, emitter
from kerasport.export.onnx.helpers import conv_pads, onnx_conv_kernel
from kerasport.ir.graph import Node
from kerasport.ops.conv import transpose_out_size


def _pads(ctx: ExportContext, x: str, ksize, strides, dilations, padding) -> dict:
    """ONNX pads (or auto_pad) for Keras padding on a channels-last value ``x``."""
    return conv_pads(ctx.shape(x)[1:1 + len(ksize)], ksize, strides, dilations, padding)


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
                **_pads(ctx, node.inputs[0], w.shape[:r], strides, dilations,
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
                **_pads(ctx, node.inputs[0], w.shape[:r], strides, dilations,
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


@emitter("Pool")
def pool(ctx: ExportContext, node: Node) -> None:
    """MaxPool / AveragePool (padding excluded from averages, as Keras)."""
    a = node.attrs
    size, strides = a.get("pool_size", [2]), a.get("strides", [2])
    op = "MaxPool" if a.get("mode", "max") == "max" else "AveragePool"
    y = ctx.add(op, [ctx.get(node.inputs[0], CF)], node.outputs[0], kernel_shape=size,
                strides=strides, **_pads(ctx, node.inputs[0], size, strides, [1] * len(size),
                                         a.get("padding", "valid")))
    ctx.set(node.outputs[0], y, CF)


@emitter("Reduce")
def reduce(ctx: ExportContext, node: Node) -> None:
    """Global pooling: ReduceMean/ReduceMax over the spatial axes."""
    a = node.attrs
    x = node.inputs[0]
    rank = ctx.rank(x)
    axes = sorted(ax % rank for ax in a.get("axes", [1]))
    keep = bool(a.get("keepdims", False))
    op = "ReduceMean" if a.get("mode", "mean") == "mean" else "ReduceMax"
    spatial = list(range(1, rank - 1))
    if rank >= 3 and axes == spatial and CF in ctx.layouts(x):
        # global pooling of (N, C, *S): GlobalAveragePool/GlobalMaxPool give (N, C, 1, ..)
        glob = "GlobalAveragePool" if op == "ReduceMean" else "GlobalMaxPool"
        out = node.outputs[0]
        y = ctx.add(glob, [ctx.get(x, CF)], out if keep else f"{out}/pooled")
        if not keep:
            y = ctx.add("Flatten", [y], out, axis=1)
        ctx.set(out, y, CF if keep else CL)
        return
    y = ctx.reduce(op, ctx.get(x, CL), axes, keep, node.outputs[0])
    ctx.set(node.outputs[0], y, CL)


@emitter("Dense")
def dense(ctx: ExportContext, node: Node) -> None:
    """MatMul (+ Add bias) over the last axis."""
    w = ctx.get(node.inputs[1], CL)
    if ctx.rank(node.inputs[0]) == 2 and len(node.inputs) > 2:
        y = ctx.add("Gemm", [ctx.get(node.inputs[0], CL), w, ctx.get(node.inputs[2], CL)],
                    node.outputs[0])
        ctx.set(node.outputs[0], y, CL)
        return
    y = ctx.add("MatMul", [ctx.get(node.inputs[0], CL), w],
                node.outputs[0] if len(node.inputs) == 2 else f"{node.outputs[0]}/matmul")
    if len(node.inputs) > 2:
        y = ctx.add("Add", [y, ctx.get(node.inputs[2], CL)], node.outputs[0])
    ctx.set(node.outputs[0], y, CL)


@emitter("Arg")
def arg(ctx: ExportContext, node: Node) -> None:
    """ArgMax / ArgMin(axis, keepdims, select_last_index) of the channels-last tensor."""
    a = node.attrs
    op = "ArgMax" if a.get("mode", "max") == "max" else "ArgMin"
    y = ctx.add(op, [ctx.get(node.inputs[0], CL)], node.outputs[0], axis=int(a.get("axis", 0)),
                keepdims=int(bool(a.get("keepdims", True))),
                select_last_index=int(bool(a.get("last", False))))
    ctx.set(node.outputs[0], y, CL)
