"""Common vision designs built in the tests (not from keras.applications): a YOLO-style
detector, a U-Net, a convolutional autoencoder, a 3D CNN, a 1D signal CNN and a model with
preprocessing layers inside. Parity with Keras in all four formats (TOL = 1e-5)."""

from __future__ import annotations

import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity


def _cbl(k, x, filters, size=3, strides=1):
    x = k.layers.Conv2D(filters, size, strides=strides, padding="same", use_bias=False)(x)
    x = k.layers.BatchNormalization()(x)
    return k.layers.LeakyReLU(0.1)(x)


def yolo(k):
    inp = k.Input((32, 32, 3))
    x = _cbl(k, inp, 8)
    x = k.layers.MaxPooling2D()(x)
    x = _cbl(k, x, 16)
    route = x
    x = k.layers.MaxPooling2D()(x)
    x = _cbl(k, x, 32)
    x = _cbl(k, x, 16, size=1)
    big = k.layers.Conv2D(3 * 7, 1, name="head_big")(_cbl(k, x, 32))
    x = _cbl(k, x, 8, size=1)
    x = k.layers.UpSampling2D(2)(x)
    x = k.layers.Concatenate()([x, route])
    small = k.layers.Conv2D(3 * 7, 1, name="head_small")(_cbl(k, x, 16))
    return k.Model(inp, [big, small])


def unet(k):
    inp = k.Input((32, 32, 1))
    c1 = k.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    p1 = k.layers.MaxPooling2D()(c1)
    c2 = k.layers.Conv2D(16, 3, padding="same", activation="relu")(p1)
    p2 = k.layers.MaxPooling2D()(c2)
    b = k.layers.Conv2D(32, 3, padding="same", activation="relu")(p2)
    u2 = k.layers.Conv2DTranspose(16, 2, strides=2, padding="same")(b)
    c3 = k.layers.Conv2D(16, 3, padding="same", activation="relu")(
        k.layers.Concatenate()([u2, c2]))
    u1 = k.layers.Conv2DTranspose(8, 2, strides=2, padding="same")(c3)
    c4 = k.layers.Conv2D(8, 3, padding="same", activation="relu")(
        k.layers.Concatenate()([u1, c1]))
    return k.Model(inp, k.layers.Conv2D(2, 1, activation="softmax")(c4))


def autoencoder(k):
    inp = k.Input((28, 28, 1))
    x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = k.layers.Flatten()(x)
    z = k.layers.Dense(10, name="code")(x)
    x = k.layers.Dense(7 * 7 * 8, activation="relu")(z)
    x = k.layers.Reshape((7, 7, 8))(x)
    x = k.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    x = k.layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(x)
    return k.Model(inp, k.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x))


def cnn3d(k):
    inp = k.Input((8, 12, 12, 2))
    x = k.layers.Conv3D(4, 3, padding="same", activation="relu")(inp)
    x = k.layers.MaxPooling3D(2)(x)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.Conv3D(8, 3, activation="relu")(x)
    x = k.layers.AveragePooling3D((1, 2, 2))(x)
    x = k.layers.GlobalAveragePooling3D()(x)
    return k.Model(inp, k.layers.Dense(3)(x))


def signal1d(k):
    inp = k.Input((64, 2))
    x = k.layers.Conv1D(8, 7, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.MaxPooling1D(2)(x)
    x = k.layers.SeparableConv1D(16, 5, padding="same", activation="relu")(x)
    x = k.layers.Conv1D(16, 3, dilation_rate=2, padding="causal", activation="relu")(x)
    x = k.layers.GlobalMaxPooling1D()(x)
    return k.Model(inp, k.layers.Dense(4, activation="softmax")(x))


def preprocessing(k):
    inp = k.Input((40, 30, 3))
    x = k.layers.Rescaling(1 / 255.0)(inp)
    x = k.layers.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.04, 0.05, 0.06])(x)
    x = k.layers.Resizing(24, 24, crop_to_aspect_ratio=True)(x)
    x = k.layers.CenterCrop(20, 20)(x)
    x = k.layers.Conv2D(4, 3, activation="relu")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(2)(x))


DESIGNS = {f.__name__: f for f in (yolo, unet, autoencoder, cnn3d, signal1d, preprocessing)}


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_design_parity(design, flavour, ext, tmp_path):
    check_parity(DESIGNS[design], flavour, ext, tmp_path)
