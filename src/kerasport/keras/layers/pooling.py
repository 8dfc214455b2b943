"""Pooling layers: Max/AveragePooling1D/2D/3D and the global poolings."""

from __future__ import annotations

from kerasport.keras.layers._util import ints, spatial_rank
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
                    "AveragePooling2D", "AveragePooling3D")
def convert_pool(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Windowed pooling; 'same' averages exclude the padding, as Keras does."""
    ctx.channels_last()
    cfg = ctx.config
    r = spatial_rank(ctx.class_name)
    size = ints(cfg.get("pool_size", 2), r)
    strides = ints(cfg.get("strides") or size, r)
    padding = str(cfg.get("padding", "valid")).lower()
    ctx.require(padding in ("valid", "same"), "padding", f"padding='{padding}' is not supported")
    mode = "max" if ctx.class_name.startswith("Max") else "avg"
    return [ctx.op("Pool", [inputs[0]], mode=mode, pool_size=size, strides=strides,
                   padding=padding)]


@register_converter("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
                    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")
def convert_global_pool(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Mean or max over the spatial axes (keepdims kept as size-1 axes)."""
    ctx.channels_last()
    r = spatial_rank(ctx.class_name)
    mode = "max" if "Max" in ctx.class_name else "mean"
    mask = ctx.input_masks[0] if ctx.input_masks else None
    if mask and ctx.class_name == "GlobalAveragePooling1D":  # Keras averages unmasked steps
        return [ctx.op("MaskedMean", [inputs[0], mask],
                       keepdims=bool(ctx.config.get("keepdims", False)))]
    return [ctx.op("Reduce", [inputs[0]], mode=mode, axes=list(range(1, r + 1)),
                   keepdims=bool(ctx.config.get("keepdims", False)))]
