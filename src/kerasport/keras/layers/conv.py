"""Convolution layers: Conv1D/2D/3D (strides, dilation, groups; valid/same/causal),
DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1D/2D/3DTranspose."""

from __future__ import annotations

from kerasport.keras.layers._util import ints, spatial_rank
from kerasport.keras.registry import LayerContext, register_converter


def _common(ctx: LayerContext) -> tuple[int, list[int], list[int], list[int], str]:
    ctx.channels_last()
    cfg = ctx.config
    r = spatial_rank(ctx.class_name.replace("Transpose", ""))
    ksize = ints(cfg["kernel_size"], r)
    strides = ints(cfg.get("strides", 1), r)
    dilations = ints(cfg.get("dilation_rate", 1), r)
    padding = str(cfg.get("padding", "valid")).lower()
    ctx.require(padding in ("valid", "same") or (padding == "causal" and r == 1), "padding",
                f"padding='{padding}' is not supported here", "use 'valid' or 'same'")
    return r, ksize, strides, dilations, padding


def _channels(ctx: LayerContext, x: str) -> int:
    shape = ctx.shape(x)
    ctx.require(shape is not None and shape[-1] is not None, None,
                "the number of input channels must be known")
    return int(shape[-1])


@register_converter("Conv1D", "Conv2D", "Conv3D", mask="drop")
def convert_conv(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvND -> Conv (+ activation); kernel stays Keras' (*ksize, C/groups, F)."""
    r, ksize, strides, dilations, padding = _common(ctx)
    cfg = ctx.config
    groups = int(cfg.get("groups", 1) or 1)
    filters = int(cfg["filters"])
    shape = ctx.shape(inputs[0])
    cin = shape[-1] if shape else None
    ctx.require(cin is not None, None, "the number of input channels must be known")
    names = ["kernel", "bias"] if cfg.get("use_bias", True) else ["kernel"]
    weights = ctx.weights_as(names, [(*ksize, cin // groups, filters), (filters,)])
    act = cfg.get("activation")
    y = ctx.op("Conv", [inputs[0], *(ctx.const(n, w) for n, w in zip(names, weights))],
               None if act in (None, "linear") else "conv",
               strides=strides, dilations=dilations, padding=padding, groups=groups)
    return [ctx.activation(y, act, None)]


@register_converter("DepthwiseConv1D", "DepthwiseConv2D", mask="drop")
def convert_depthwise(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """DepthwiseConvND(depth_multiplier) -> DepthwiseConv (+ activation)."""
    r, ksize, strides, dilations, padding = _common(ctx)
    cfg = ctx.config
    c, m = _channels(ctx, inputs[0]), int(cfg.get("depth_multiplier", 1))
    names = ["depthwise_kernel", "bias"] if cfg.get("use_bias", True) else ["depthwise_kernel"]
    weights = ctx.weights_as(names, [(*ksize, c, m), (c * m,)])
    act = cfg.get("activation")
    y = ctx.op("DepthwiseConv", [inputs[0], *(ctx.const(n, w) for n, w in zip(names, weights))],
               None if act in (None, "linear") else "conv",
               strides=strides, dilations=dilations, padding=padding)
    return [ctx.activation(y, act, None)]


@register_converter("SeparableConv1D", "SeparableConv2D", mask="drop")
def convert_separable(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """SeparableConvND -> DepthwiseConv, then a 1x1 Conv (+ bias, activation)."""
    r, ksize, strides, dilations, padding = _common(ctx)
    cfg = ctx.config
    c, m = _channels(ctx, inputs[0]), int(cfg.get("depth_multiplier", 1))
    filters = int(cfg["filters"])
    names = ["depthwise_kernel", "pointwise_kernel"] + (
        ["bias"] if cfg.get("use_bias", True) else [])
    weights = ctx.weights_as(names, [(*ksize, c, m), (*[1] * r, c * m, filters), (filters,)])
    dw = ctx.op("DepthwiseConv", [inputs[0], ctx.const("depthwise_kernel", weights[0])],
                "depthwise", strides=strides, dilations=dilations, padding=padding)
    act = cfg.get("activation")
    y = ctx.op("Conv", [dw, ctx.const("pointwise_kernel", weights[1]),
                        *([ctx.const("bias", weights[2])] if len(weights) > 2 else [])],
               None if act in (None, "linear") else "conv", strides=[1] * r,
               dilations=[1] * r, padding="valid", groups=1)
    return [ctx.activation(y, act, None)]


@register_converter("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", mask="drop")
def convert_conv_transpose(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvNDTranspose(strides, output_padding, dilation) -> ConvTranspose (+ activation)."""
    r, ksize, strides, dilations, padding = _common(ctx)
    cfg = ctx.config
    c, filters = _channels(ctx, inputs[0]), int(cfg["filters"])
    out_pad = cfg.get("output_padding")
    out_pad = None if out_pad is None else ints(out_pad, r)
    names = ["kernel", "bias"] if cfg.get("use_bias", True) else ["kernel"]
    weights = ctx.weights_as(names, [(*ksize, filters, c), (filters,)])
    act = cfg.get("activation")
    y = ctx.op("ConvTranspose",
               [inputs[0], *(ctx.const(n, w) for n, w in zip(names, weights))],
               None if act in (None, "linear") else "conv", strides=strides,
               dilations=dilations, padding=padding, output_padding=out_pad)
    return [ctx.activation(y, act, None)]
