"""Keras 3 emitters for kerasport/ops/conv.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import (
    EmitContext,
    Emitted,
    emitter,
    padding,
    require,
    spatial_rank,
)
from kerasport.ir.graph import Node


def _bias(ctx: EmitContext, node: Node, index: int, what: str = "bias") -> list:
    if index < len(node.inputs) and node.inputs[index]:
        return [ctx.weight(node, index, what)]
    return []


@emitter("Conv")
def emit_conv(ctx: EmitContext, node: Node) -> Emitted:
    """Conv{1,2,3}D (kernel (k..., in / groups, filters), Keras' own layout)."""
    r = spatial_rank(ctx, node)
    kernel = ctx.weight(node, 1, "kernel")
    bias = _bias(ctx, node, 2)
    a = node.attrs
    config = {"filters": int(kernel.shape[-1]), "kernel_size": list(kernel.shape[:r]),
              "strides": list(a.get("strides", (1,) * r)),
              "padding": padding(a.get("padding", "valid"), causal=r == 1),
              "data_format": "channels_last",
              "dilation_rate": list(a.get("dilations", (1,) * r)),
              "groups": int(a.get("groups", 1)), "activation": "linear",
              "use_bias": bool(bias)}
    return Emitted(f"Conv{r}D", config, [node.inputs[0]], [kernel, *bias])


@emitter("DepthwiseConv")
def emit_depthwise(ctx: EmitContext, node: Node) -> Emitted:
    """DepthwiseConv{1,2}D (kernel (k..., channels, multiplier))."""
    r = spatial_rank(ctx, node, (1, 2))
    kernel = ctx.weight(node, 1, "kernel")
    bias = _bias(ctx, node, 2)
    a = node.attrs
    dil = list(a.get("dilations", (1,) * r))
    strides = list(a.get("strides", (1,) * r))
    require(dil == [1] * r or strides == [1] * r, "Keras does not combine strides and "
            "dilations in a depthwise convolution", "dilations")
    config = {"kernel_size": list(kernel.shape[:r]), "strides": strides,
              "padding": padding(a.get("padding", "valid")), "data_format": "channels_last",
              "dilation_rate": dil, "depth_multiplier": int(kernel.shape[-1]),
              "activation": "linear", "use_bias": bool(bias)}
    return Emitted(f"DepthwiseConv{r}D", config, [node.inputs[0]], [kernel, *bias])


@emitter("ConvTranspose")
def emit_conv_transpose(ctx: EmitContext, node: Node) -> Emitted:
    """Conv{1,2,3}DTranspose (kernel (k..., filters, in), Keras' own layout)."""
    r = spatial_rank(ctx, node)
    kernel = ctx.weight(node, 1, "kernel")
    bias = _bias(ctx, node, 2)
    a = node.attrs
    out_pad = a.get("output_padding")
    config = {"filters": int(kernel.shape[-2]), "kernel_size": list(kernel.shape[:r]),
              "strides": list(a.get("strides", (1,) * r)),
              "padding": padding(a.get("padding", "valid")),
              "output_padding": None if out_pad is None else list(out_pad),
              "data_format": "channels_last",
              "dilation_rate": list(a.get("dilations", (1,) * r)), "activation": "linear",
              "use_bias": bool(bias)}
    return Emitted(f"Conv{r}DTranspose", config, [node.inputs[0]], [kernel, *bias])


@emitter("SpatialPad")
def emit_spatial_pad(ctx: EmitContext, node: Node) -> Emitted:
    """Zero margins on the spatial axes (an ONNX convolution's pads): ZeroPadding{1,2,3}D."""
    r = spatial_rank(ctx, node)
    require(float(node.attrs.get("value", 0.0)) == 0.0, "padding with a value other than 0 "
            "(a max pool's) has no Keras layer", "value")
    margins = [[int(b), int(a)] for b, a in node.attrs.get("margins", ())]
    require(len(margins) == r, "margins do not match the spatial axes", "margins")
    config: dict = {"padding": margins[0]}
    if r > 1:
        config = {"padding": margins, "data_format": "channels_last"}
    return Emitted(f"ZeroPadding{r}D", config, [node.inputs[0]])
