"""Data-augmentation layers kept inside saved models (Keras 3 and tf_keras).

What each does at inference (``model.predict``, ``training=False``) was read from Keras'
``call``/``transform_images`` and checked against Keras 3.15 and tf_keras 2.21:

* the random augmentations return their input (cast to float32) unchanged;
* RandomCrop: tf_keras (and Keras 3.0-3.5) take the largest centred crop of the target aspect
  ratio and resize it (bilinear) to (height, width); Keras 3.6 and later return the input
  unchanged, whatever its size (the declared output shape notwithstanding);
* AutoContrast stretches every image's channels at inference too;
* ContrastLimitedAdaptiveHistogramEqualization equalizes at inference too (refused).
"""

from __future__ import annotations

from kerasport.keras.layers.preprocessing import _crop_to_aspect
from kerasport.keras.registry import LayerContext, register_converter

IDENTITY_AT_INFERENCE = (
    # Keras 3 and tf_keras
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandomTranslation",
    "RandomBrightness",
    # tf_keras only
    "RandomHeight", "RandomWidth",
    # Keras 3 only
    "AugMix", "CutMix", "MixUp", "RandAugment", "Solarization", "RandomGrayscale", "RandomHue",
    "RandomSaturation", "RandomSharpness", "RandomShear", "RandomColorJitter",
    "RandomColorDegeneration", "RandomPosterization", "RandomInvert", "RandomElasticTransform",
    "RandomErasing", "RandomGaussianBlur", "RandomPerspective", "Equalization",
    "MaxNumBoundingBoxes",
)


def keras_own(ctx: LayerContext) -> None:
    """Refuse a same-named layer of another package (KerasCV's Equalization, for one, does
    transform at inference): only Keras' and tf_keras' own classes are known here."""
    module = ctx.spec.module or "keras"
    package = module.split(".")[0]
    ctx.require(package in ("keras", "tf_keras", "tensorflow"), None,
                f"this {ctx.class_name} comes from '{module}', not Keras; its inference "
                "behaviour is not known to kerasport",
                f"register a converter for {ctx.spec.registered_name or ctx.class_name!r} "
                "(see the README)")


@register_converter(*IDENTITY_AT_INFERENCE, mask="drop")
def convert_augmentation(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Augmentation: the identity at inference (the input cast to float32)."""
    keras_own(ctx)
    return [inputs[0]]


@register_converter("RandomCrop", mask="drop")
def convert_random_crop(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """RandomCrop: the input unchanged (Keras 3.6+), or tf_keras' centred crop resized.

    tf_keras (and Keras 3.0-3.5) resize the largest centred crop of the target aspect ratio to
    (height, width), bilinear."""
    keras_own(ctx)
    if ctx.keras_major >= 3:
        return [inputs[0]]
    ctx.channels_last()
    height, width = int(ctx.config["height"]), int(ctx.config["width"])
    ctx.require(ctx.rank(inputs[0]) == 4, None, "only batched images (N, H, W, C) are supported")
    shape = ctx.shape(inputs[0])
    ctx.require(None not in shape[1:3], None, "tf_keras' RandomCrop needs a known input "
                "height and width here", "give the model's Input a fixed image size")
    if tuple(shape[1:3]) == (height, width):
        return [inputs[0]]
    x = _crop_to_aspect(ctx, inputs[0], height, width)
    return [ctx.op("Resize", [x], size=[height, width], method="bilinear")]


@register_converter("AutoContrast", mask="drop")
def convert_auto_contrast(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """AutoContrast(value_range): each image's channels stretched to the full value range."""
    keras_own(ctx)
    low, high = sorted(float(v) for v in ctx.config.get("value_range", (0, 255)))
    ctx.require(ctx.rank(inputs[0]) >= 3, None, "expects batched images (N, H, W, C)")
    return [ctx.op("AutoContrast", [inputs[0]], value_range=[low, high])]


@register_converter("ContrastLimitedAdaptiveHistogramEqualization", mask="drop")
def convert_refused_augmentation(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Refused: equalizes images at inference too (CLAHE is not implemented)."""
    ctx.require(False, None, "ContrastLimitedAdaptiveHistogramEqualization transforms images at "
                "inference too, and kerasport does not implement it",
                "apply it to the images before the model, and convert the model without it")
    return []


convert_refused_augmentation.refused = True  # type: ignore  # listed apart in docs
