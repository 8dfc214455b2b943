"""Conv and ConvTranspose: NC... weights become Keras' channels-last kernels, ONNX pads an
explicit Pad (or 'same' when they equal TensorFlow's rule), the input held channels-last."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported, channels_last
from kerasport.onnx_reader.helpers import auto_pads, optional, out, pad_ir, spatial_pads
from kerasport.onnx_reader.registry import converter
from kerasport.ops.conv import same_pads


def _window(attrs: dict[str, Any], r: int) -> tuple[list[int], list[int]]:
    return list(attrs.get("strides", [1] * r)), list(attrs.get("dilations", [1] * r))


def conv_pads(ctx: ReadContext, x: str, attrs: dict[str, Any], ksize: list[int],
              strides: list[int], dilations: list[int]) -> list[tuple[int, int]]:
    """(before, after) per spatial axis from auto_pad or pads."""
    r = len(ksize)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return [(0, 0)] * r
    sizes = (ctx.shape(x) or (None,) * (r + 2))[2:]
    found = auto_pads(auto, sizes, ksize, strides, dilations)
    return found if found is not None else spatial_pads(attrs.get("pads"), r)


def _is_same(sizes: tuple, pads: list, ksize, strides, dilations) -> bool:
    if None in sizes or all(p == (0, 0) for p in pads):
        return False
    return all(tuple(p) == same_pads(s, k, st, d)
               for p, s, k, st, d in zip(pads, sizes, ksize, strides, dilations))


@converter("Conv")
def conv(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """Conv (any rank, groups, dilations, pads, auto_pad) -> IR Conv, channels-last."""
    x = node.input[0]
    w = np.asarray(ctx.const(node.input[1], "the weight"), np.float32)
    r = w.ndim - 2
    if r < 1:
        raise Unsupported(f"weight of rank {w.ndim}")
    ksize = list(w.shape[2:])
    strides, dilations = _window(attrs, r)
    kernel = w.transpose(*range(2, 2 + r), 1, 0)
    perm = channels_last(r + 2)
    xi = ctx.ir(x, perm)
    pads = conv_pads(ctx, x, attrs, ksize, strides, dilations)
    sizes = (ctx.shape(x) or (None,) * (r + 2))[2:]
    padding = "same" if _is_same(sizes, pads, ksize, strides, dilations) else "valid"
    if padding == "valid":
        xi = pad_ir(ctx, xi, pads, 0.0, out(node))
    b = optional(node, 2)
    bias = ctx.ir_const(f"{ctx.layer}/bias", ctx.const(b, "the bias")) if b else ""
    ins = [xi, ctx.ir_const(f"{ctx.layer}/kernel", kernel)] + ([bias] if bias else [])
    y = ctx.op("Conv", ins, out(node), {"strides": strides, "dilations": dilations,
                                        "padding": padding, "groups": int(attrs.get("group", 1))})
    ctx.set(out(node), y, perm)


def _transpose_pads(ctx: ReadContext, x: str, attrs: dict[str, Any], ksize, strides,
                    dilations, extra) -> list[tuple[int, int]]:
    r = len(ksize)
    shape = attrs.get("output_shape")
    auto = attrs.get("auto_pad", "NOTSET")
    if shape is None and auto in ("NOTSET", "VALID"):
        return spatial_pads(attrs.get("pads") if auto == "NOTSET" else None, r)
    sizes = (ctx.shape(x) or (None,) * (r + 2))[2:]
    if None in sizes:
        raise Unsupported("output_shape/auto_pad need the spatial size, which is free")
    full = [st * (s - 1) + e + (k - 1) * d + 1
            for s, k, st, d, e in zip(sizes, ksize, strides, dilations, extra)]
    target = list(shape)[-r:] if shape is not None else [s * st for s, st in zip(sizes, strides)]
    pads = []
    for f, t in zip(full, target):
        total = f - t
        if total < 0:
            raise Unsupported(f"output_shape {shape} is larger than the full output")
        small, big = total // 2, total - total // 2
        pads.append((big, small) if auto == "SAME_LOWER" else (small, big))
    return pads


@converter("ConvTranspose")
def conv_transpose(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """ConvTranspose (group 1) -> IR ConvTranspose (full output) then a Crop of the pads."""
    if int(attrs.get("group", 1)) != 1:
        raise Unsupported("group > 1 is not supported for ConvTranspose")
    x = node.input[0]
    w = np.asarray(ctx.const(node.input[1], "the weight"), np.float32)
    r = w.ndim - 2
    ksize = list(w.shape[2:])
    strides, dilations = _window(attrs, r)
    extra = list(attrs.get("output_padding", [0] * r))
    kernel = w.transpose(*range(2, 2 + r), 1, 0)
    perm = channels_last(r + 2)
    pads = _transpose_pads(ctx, x, attrs, ksize, strides, dilations, extra)
    b = optional(node, 2)
    ins = [ctx.ir(x, perm), ctx.ir_const(f"{ctx.layer}/kernel", kernel)]
    if b:
        ins.append(ctx.ir_const(f"{ctx.layer}/bias", ctx.const(b, "the bias")))
    name = out(node) if all(p == (0, 0) for p in pads) else f"{out(node)}/full"
    y = ctx.op("ConvTranspose", ins, name, {"strides": strides, "dilations": dilations,
                                            "padding": "valid", "output_padding": extra})
    if name != out(node):
        crops = [[0, 0], *[[b_, a_] for b_, a_ in pads], [0, 0]]
        y = ctx.op("Crop", [y], out(node), {"crops": crops})
    ctx.set(out(node), y, perm)
