"""Preprocessing layers that live inside models: Rescaling, Normalization, Resizing,
CenterCrop."""

from __future__ import annotations

import numpy as np

from kerasport.keras.registry import LayerContext, register_converter

EPSILON = 1e-7  # keras.backend.epsilon()


@register_converter("Rescaling", mask="pass")
def convert_rescaling(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """x * scale + offset (scalars or per-channel lists)."""
    scale = np.asarray(ctx.config.get("scale", 1.0), np.float32)
    offset = np.asarray(ctx.config.get("offset", 0.0), np.float32)
    return [ctx.op("Affine", [inputs[0], ctx.const("scale", scale),
                              ctx.const("offset", offset)])]


@register_converter("Normalization", mask="drop")
def convert_normalization(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """(x - mean) / max(sqrt(var), eps), or its inverse; mean/variance from the config or
    from the adapted weights."""
    cfg = ctx.config
    shape = ctx.shape(inputs[0])
    rank = ctx.rank(inputs[0])
    axis = cfg.get("axis", -1)
    axis = [] if axis is None else (axis if isinstance(axis, (list, tuple)) else [axis])
    keep = sorted(int(a) % rank for a in axis)
    bshape = [shape[d] if d in keep else 1 for d in range(rank)]
    if cfg.get("mean") is not None:
        mean = np.asarray(cfg["mean"], np.float64)
        var = np.asarray(cfg["variance"], np.float64)
        target = [1] * (rank - len(keep)) + [shape[d] for d in keep] if mean.ndim else []
        mean = np.broadcast_to(mean.reshape(target[-mean.ndim:] if mean.ndim else ()), bshape)
        var = np.broadcast_to(var.reshape(target[-var.ndim:] if var.ndim else ()), bshape)
    else:
        stored = [a for _, a in ctx.weights]
        ctx.require(len(stored) >= 2, None, "adapted mean and variance are missing")
        mean = stored[0].astype(np.float64).reshape(bshape)
        var = stored[1].astype(np.float64).reshape(bshape)
    std = np.maximum(np.sqrt(var), EPSILON)
    if cfg.get("invert", False):
        scale, shift = std, mean
    else:
        scale, shift = 1.0 / std, -mean / std
    return [ctx.op("Affine", [inputs[0], ctx.const("scale", scale.astype(np.float32)),
                              ctx.const("shift", shift.astype(np.float32))])]


def _crop_to_aspect(ctx: LayerContext, x: str, height: int, width: int) -> str:
    shape = ctx.shape(x)
    h, w = shape[1], shape[2]
    ctx.require(h is not None and w is not None, None,
                "crop_to_aspect_ratio needs a known input height and width")
    crop_h = max(min(h, int(np.float32(w * height) / np.float32(width))), 1)
    crop_w = max(min(w, int(np.float32(h * width) / np.float32(height))), 1)
    top = int(np.float32(h - crop_h) / 2)
    left = int(np.float32(w - crop_w) / 2)
    if (crop_h, crop_w) == (h, w):
        return x
    return ctx.op("Crop", [x], "crop",
                  crops=[(0, 0), (top, h - crop_h - top), (left, w - crop_w - left), (0, 0)])


@register_converter("Resizing", mask="drop")
def convert_resizing(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Resizing(height, width, interpolation nearest|bilinear, crop_to_aspect_ratio)."""
    ctx.channels_last()
    cfg = ctx.config
    method = str(cfg.get("interpolation", "bilinear"))
    ctx.require(method in ("nearest", "bilinear"), "interpolation",
                f"interpolation='{method}' is not supported", "use 'nearest' or 'bilinear'")
    ctx.require(not cfg.get("pad_to_aspect_ratio"), "pad_to_aspect_ratio",
                "pad_to_aspect_ratio is not supported")
    ctx.require(not cfg.get("antialias"), "antialias", "antialias is not supported")
    height, width = int(cfg["height"]), int(cfg["width"])
    ctx.require(ctx.rank(inputs[0]) == 4, None, "only batched images (N, H, W, C) are supported")
    x = inputs[0]
    if cfg.get("crop_to_aspect_ratio"):
        x = _crop_to_aspect(ctx, x, height, width)
    return [ctx.op("Resize", [x], size=[height, width], method=method)]


@register_converter("CenterCrop", mask="drop")
def convert_center_crop(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """CenterCrop(height, width); a smaller input is resized (bilinear, aspect-cropped) as
    Keras does."""
    ctx.channels_last()
    height, width = int(ctx.config["height"]), int(ctx.config["width"])
    ctx.require(ctx.rank(inputs[0]) == 4, None, "only batched images (N, H, W, C) are supported")
    shape = ctx.shape(inputs[0])
    h, w = shape[1], shape[2]
    ctx.require(h is not None and w is not None, None, "CenterCrop needs a known input size")
    if h >= height and w >= width:
        top, left = (h - height) // 2, (w - width) // 2
        return [ctx.op("Crop", [inputs[0]], crops=[(0, 0), (top, h - height - top),
                                                   (left, w - width - left), (0, 0)])]
    x = _crop_to_aspect(ctx, inputs[0], height, width)
    return [ctx.op("Resize", [x], size=[height, width], method="bilinear")]
