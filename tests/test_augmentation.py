"""Data-augmentation layers kept inside saved models: parity with Keras at inference
(``training=False``) for Keras 3 and, where the layer exists there, Keras 2; .keras and .h5.
Most are the identity there; RandomCrop (tf_keras: centred crop + resize) and AutoContrast
are not. Tolerance: keras_models.TOL (1e-5 of the output scale)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity, keras_module, random_inputs, save

import kerasport
from kerasport.errors import UnsupportedLayerError

K3_FORMATS = [f for f in FORMATS if f[0] == "k3"]
K2_FORMATS = [f for f in FORMATS if f[0] == "k2"]


def then_conv(make, shape=(16, 12, 3), dtype="float32"):
    """A model: Input(shape) -> make(k) -> Conv2D, so the layer's output feeds a real layer."""

    def build(k):
        inp = k.Input(shape, dtype=dtype)
        x = make(k)(inp)
        return k.Model(inp, k.layers.Conv2D(4, 3, padding="same")(x))

    return build


def layer(name, *args, **kwargs):
    """make(k) for keras.layers.<name>(*args, **kwargs)."""
    return lambda k: getattr(k.layers, name)(*args, **kwargs)


BOTH = {  # Keras 3 and tf_keras
    "RandomFlip": then_conv(layer("RandomFlip")),
    "RandomFlip-horizontal-uint8": then_conv(layer("RandomFlip", "horizontal"), dtype="uint8"),
    "RandomRotation": then_conv(layer("RandomRotation", 0.2)),
    "RandomZoom": then_conv(layer("RandomZoom", 0.2, 0.1)),
    "RandomContrast": then_conv(layer("RandomContrast", 0.3)),
    "RandomTranslation": then_conv(layer("RandomTranslation", 0.1, 0.2)),
    "RandomBrightness": then_conv(layer("RandomBrightness", 0.2)),
    "RandomCrop-same-size": then_conv(layer("RandomCrop", 16, 12)),
}

K3_ONLY = {
    "AugMix": then_conv(layer("AugMix")),
    "CutMix": then_conv(layer("CutMix")),
    "MixUp": then_conv(layer("MixUp")),
    "RandAugment": then_conv(layer("RandAugment")),
    "Solarization": then_conv(layer("Solarization", addition_factor=0.2, threshold_factor=0.3)),
    "RandomGrayscale": then_conv(layer("RandomGrayscale", 0.5)),
    "RandomHue": then_conv(layer("RandomHue", 0.3)),
    "RandomSaturation": then_conv(layer("RandomSaturation", 0.3)),
    "RandomSharpness": then_conv(layer("RandomSharpness", 0.3)),
    "RandomShear": then_conv(layer("RandomShear", 0.2, 0.1)),
    "RandomColorJitter": then_conv(layer("RandomColorJitter", brightness_factor=0.2,
                                         contrast_factor=0.2, saturation_factor=0.3,
                                         hue_factor=0.1)),
    "RandomColorDegeneration": then_conv(layer("RandomColorDegeneration", 0.3)),
    "RandomPosterization": then_conv(layer("RandomPosterization", 4)),
    "RandomInvert": then_conv(layer("RandomInvert")),
    "RandomElasticTransform": then_conv(layer("RandomElasticTransform")),
    "RandomErasing": then_conv(layer("RandomErasing")),
    "RandomGaussianBlur": then_conv(layer("RandomGaussianBlur")),
    "RandomPerspective": then_conv(layer("RandomPerspective")),
    "MaxNumBoundingBoxes": then_conv(layer("MaxNumBoundingBoxes", 3)),
    # Keras 3.6+: the input unchanged at inference (not cropped, not resized)
    "RandomCrop-smaller": then_conv(layer("RandomCrop", 8, 6)),
    "RandomCrop-larger": then_conv(layer("RandomCrop", 20, 10)),
    # deterministic: stretches each image's channels at inference too
    "AutoContrast": then_conv(layer("AutoContrast")),
    "AutoContrast-unit-range": then_conv(layer("AutoContrast", value_range=(0, 1))),
    "AutoContrast-range": then_conv(layer("AutoContrast", value_range=(-1, 2))),
    "AutoContrast-constant": then_conv(layer("AutoContrast"), shape=(1, 1, 3)),
}

K2_ONLY = {
    "RandomHeight": then_conv(layer("RandomHeight", 0.2)),
    "RandomWidth": then_conv(layer("RandomWidth", (-0.2, 0.3))),
    # tf_keras: the largest centred crop of the target aspect ratio, resized (bilinear)
    "RandomCrop-smaller": then_conv(layer("RandomCrop", 8, 6)),
    "RandomCrop-aspect": then_conv(layer("RandomCrop", 8, 8)),
    "RandomCrop-larger": then_conv(layer("RandomCrop", 20, 10)),
}


# Keras 3 itself cannot write these to .h5 (its legacy writer fails to copy their config:
# "cannot pickle 'module' object")
K3_NO_H5 = {"RandomBrightness", "RandomColorDegeneration", "RandomPosterization",
            "RandomSaturation", "RandomSharpness", "Solarization"}


def _skip_unsavable(case: str, flavour: str, ext: str) -> None:
    if flavour == "k3" and ext == "h5" and case in K3_NO_H5:
        pytest.skip("Keras 3 cannot save this layer in an .h5 file")


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(BOTH))
def test_augmentation_parity(case, flavour, ext, tmp_path):
    _skip_unsavable(case, flavour, ext)
    check_parity(BOTH[case], flavour, ext, tmp_path, int_high=256)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("case", sorted(K3_ONLY))
def test_keras3_augmentation_parity(case, ext, tmp_path):
    _skip_unsavable(case, "k3", ext)
    check_parity(K3_ONLY[case], "k3", ext, tmp_path)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("case", sorted(K2_ONLY))
def test_keras2_augmentation_parity(case, ext, tmp_path):
    check_parity(K2_ONLY[case], "k2", ext, tmp_path)


def image_tutorial(first_layer_shape: bool):
    """The Keras image-classification tutorial's model, augmentation kept inside (its input
    shape given by an Input, or as the tutorial does, by the first augmentation layer)."""

    def build(k):
        L = k.layers
        shape = {"input_shape": (24, 24, 3)} if first_layer_shape else {}
        augment = k.Sequential([L.RandomFlip("horizontal", **shape), L.RandomRotation(0.1),
                                L.RandomZoom(0.1)], name="data_augmentation")
        head = [] if first_layer_shape else [k.Input((24, 24, 3))]
        return k.Sequential([
            *head, augment, L.Rescaling(1.0 / 255),
            L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Dropout(0.2), L.Flatten(), L.Dense(16, activation="relu"), L.Dense(5)])

    return build


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("first_layer_shape", [False, True], ids=["Input", "input_shape"])
def test_image_tutorial_model(first_layer_shape, flavour, ext, tmp_path):
    check_parity(image_tutorial(first_layer_shape), flavour, ext, tmp_path, int_high=256)


def flip_model_as(tmp_path, **changes):
    """A Keras 3 model Input -> RandomFlip (named "eq") -> Conv2D, saved, with the flip's
    entry in config.json changed (class_name, module...): (model, edited file)."""
    k = keras_module("k3")
    inp = k.Input((8, 8, 3))
    model = k.Model(inp, k.layers.Conv2D(2, 3)(k.layers.RandomFlip(name="eq")(inp)))
    path = save(model, tmp_path / "flip.keras")
    edited = tmp_path / "edited.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for spec in config["config"]["layers"]:
                    if spec["config"]["name"] == "eq":
                        spec.update(changes)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return model, edited


def test_equalization_is_the_identity(tmp_path):
    """Keras 3's Equalization returns its input at inference (it cannot even be traced into a
    functional model: its symbolic output is its input). A file naming it converts as such."""
    model, edited = flip_model_as(tmp_path, class_name="Equalization")
    (x,) = random_inputs(model)
    got = kerasport.load(edited).predict(x)
    np.testing.assert_allclose(got, np.asarray(model(x, training=False)), rtol=0, atol=1e-5)


def test_same_named_layer_of_another_package_is_refused(tmp_path):
    """KerasCV's Equalization (for one) transforms at inference: a layer of that name from
    another package is not taken for Keras' own."""
    _, edited = flip_model_as(tmp_path, class_name="Equalization",
                              module="keras_cv.src.layers.preprocessing.equalization",
                              registered_name="keras_cv>Equalization")
    with pytest.raises(UnsupportedLayerError) as info:
        kerasport.load(edited)
    (issue,) = info.value.issues
    assert "keras_cv" in issue.reason and "keras_cv>Equalization" in issue.hint


def test_clahe_is_refused(tmp_path):
    k = keras_module("k3")
    inp = k.Input((8, 8, 3))
    clahe = k.layers.ContrastLimitedAdaptiveHistogramEqualization(name="clahe")
    path = save(k.Model(inp, clahe(inp)), tmp_path / "clahe.keras")
    with pytest.raises(UnsupportedLayerError) as info:
        kerasport.load(path)
    (issue,) = info.value.issues
    assert issue.layer == "clahe" and "at inference" in issue.reason and issue.hint
