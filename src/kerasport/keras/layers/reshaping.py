"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding1D/2D/3D, Cropping1D/2D/3D,
UpSampling1D/2D/3D."""

from __future__ import annotations

from kerasport.keras.layers._util import ints, pairs, spatial_rank
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("Flatten", mask="drop")
def convert_flatten(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """(N, ...) -> (N, -1); channels_first moves channels last first, as Keras does."""
    x = inputs[0]
    fmt = ctx.config.get("data_format") or "channels_last"
    rank = ctx.rank(x)
    if fmt == "channels_first" and rank > 2:
        x = ctx.op("Transpose", [x], "to_channels_last", perm=[0, *range(2, rank), 1])
    return [ctx.op("Flatten", [x])]


@register_converter("Reshape", mask="drop")
def convert_reshape(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Reshape(target_shape) of the non-batch dims (one -1 allowed)."""
    return [ctx.op("Reshape", [inputs[0]], shape=[int(d) for d in ctx.config["target_shape"]])]


@register_converter("Permute", mask="drop")
def convert_permute(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Permute(dims), dims 1-based over the non-batch axes."""
    return [ctx.op("Transpose", [inputs[0]], perm=[0, *(int(d) for d in ctx.config["dims"])])]


@register_converter("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", mask="drop")
def convert_zero_padding(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Zero padding of the spatial axes."""
    ctx.channels_last()
    r = spatial_rank(ctx.class_name)
    pads = pairs(ctx.config.get("padding", 1), r)
    return [ctx.op("Pad", [inputs[0]], pads=[(0, 0), *pads, (0, 0)])]


@register_converter("Cropping1D", "Cropping2D", "Cropping3D", mask="drop")
def convert_cropping(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Cropping of the spatial axes."""
    ctx.channels_last()
    r = spatial_rank(ctx.class_name)
    crops = pairs(ctx.config.get("cropping", 1), r)
    return [ctx.op("Crop", [inputs[0]], crops=[(0, 0), *crops, (0, 0)])]


@register_converter("UpSampling1D", "UpSampling2D", "UpSampling3D", mask="drop")
def convert_upsampling(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Integer upsampling: nearest repeats; UpSampling2D bilinear resizes like Keras."""
    ctx.channels_last()
    r = spatial_rank(ctx.class_name)
    size = ints(ctx.config.get("size", 2), r)
    method = str(ctx.config.get("interpolation", "nearest"))
    ctx.require(method in ("nearest", "bilinear"), "interpolation",
                f"interpolation='{method}' is not supported", "use 'nearest' or 'bilinear'")
    if method == "nearest":
        return [ctx.op("Repeat", [inputs[0]], repeats=size)]
    shape = ctx.shape(inputs[0])
    ctx.require(None not in shape[1:1 + r], None, "bilinear upsampling needs known spatial sizes")
    return [ctx.op("Resize", [inputs[0]], size=[d * s for d, s in zip(shape[1:1 + r], size)],
                   method="bilinear")]
