"""Pooling layers: Max/AveragePooling1D/2D/3D, the global poolings and the adaptive poolings."""

from __future__ import annotations

from kerasport.keras.layers._util import ints, spatial_rank
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
                    "AveragePooling2D", "AveragePooling3D", mask="drop")
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
                    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
                    mask="drop")
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


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """Keras' (PyTorch's) adaptive pooling bins: [floor(i*L/o), ceil((i+1)*L/o)) for i < o."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


@register_converter("AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D",
                    "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D",
                    "AdaptiveMaxPooling3D", mask="drop")
def convert_adaptive_pool(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Adaptive pooling to output_size, with Keras' floor/ceil bins.

    Pool over the axes whose bins are uniform (L % o == 0); over the others, per-bin slices
    reduced and concatenated (each axis in turn, as Keras)."""
    ctx.channels_last()
    r = spatial_rank(ctx.class_name)
    out = ints(ctx.config.get("output_size"), r)
    shape = ctx.shape(inputs[0])
    ctx.require(shape is not None and len(shape) == r + 2, None,
                f"expects inputs of rank {r + 2}")
    sizes = list(shape[1:-1])
    ctx.require(None not in sizes, None, "adaptive pooling needs known spatial input sizes",
                "give the model's Input a fixed spatial shape (Keras needs one too)")
    ctx.require(all(o > 0 for o in out), "output_size", f"output_size={out} is not positive")
    average = "Average" in ctx.class_name
    x = inputs[0]
    uniform = [L % o == 0 for L, o in zip(sizes, out)]
    if any(uniform):
        window = [L // o if u else 1 for L, o, u in zip(sizes, out, uniform)]
        if any(w > 1 for w in window):
            x = ctx.op("Pool", [x], "pool" if not all(uniform) else None,
                       mode="avg" if average else "max", pool_size=window, strides=window,
                       padding="valid")
    if all(uniform):
        return [x]  # (the input itself when output_size equals the input size)
    rank = r + 2
    last = max(a for a, u in enumerate(uniform, start=1) if not u)
    for axis, (L, o, u) in enumerate(zip(sizes, out, uniform), start=1):
        if u:
            continue
        parts = []
        for i, (start, end) in enumerate(adaptive_bins(L, o)):
            crops = [(0, 0)] * rank
            crops[axis] = (start, L - end)
            piece = ctx.op("Crop", [x], f"axis{axis}/bin{i}", crops=crops)
            parts.append(ctx.op("Reduce", [piece], f"axis{axis}/bin{i}/reduce",
                                mode="mean" if average else "max", axes=[axis],
                                keepdims=True))
        x = ctx.op("Concat", parts, f"axis{axis}" if axis < last else None, axis=axis)
    return [x]
