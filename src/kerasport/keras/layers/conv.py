"""Convolution layers: Conv1D, Conv2D (strides, dilation, groups; valid/same/causal)."""

from __future__ import annotations

from kerasport.keras.layers._util import ints, spatial_rank
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("Conv1D", "Conv2D")
def convert_conv(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvND -> Conv (+ activation); kernel stays Keras' (*ksize, C/groups, F)."""
    ctx.channels_last()
    cfg = ctx.config
    r = spatial_rank(ctx.class_name)
    ksize = ints(cfg["kernel_size"], r)
    strides = ints(cfg.get("strides", 1), r)
    dilations = ints(cfg.get("dilation_rate", 1), r)
    padding = str(cfg.get("padding", "valid")).lower()
    ctx.require(padding in ("valid", "same") or (padding == "causal" and r == 1), "padding",
                f"padding='{padding}' is not supported here", "use 'valid' or 'same'")
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
