"""Parity of the vision layers behind keras.applications (Keras 3 and Keras 2, .keras and .h5),
every option. Tolerance: keras_models.TOL (1e-5 of the output scale)."""

from __future__ import annotations

import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity
from test_layers import single

CASES = {
    # depthwise / separable
    "DepthwiseConv2D": single((7, 6, 3), lambda k: k.layers.DepthwiseConv2D(3)),
    "DepthwiseConv2D-same-s2": single((7, 6, 3), lambda k: k.layers.DepthwiseConv2D(
        3, strides=2, padding="same")),
    "DepthwiseConv2D-mult-dil": single((9, 8, 3), lambda k: k.layers.DepthwiseConv2D(
        3, depth_multiplier=2, dilation_rate=2, padding="same", activation="relu")),
    "DepthwiseConv2D-nobias-even": single((7, 6, 4), lambda k: k.layers.DepthwiseConv2D(
        (2, 4), padding="same", use_bias=False)),
    "DepthwiseConv1D": single((9, 3), lambda k: k.layers.DepthwiseConv1D(
        3, depth_multiplier=2, padding="same")),
    "SeparableConv2D": single((7, 6, 3), lambda k: k.layers.SeparableConv2D(5, 3)),
    "SeparableConv2D-same-s2-mult": single((8, 7, 3), lambda k: k.layers.SeparableConv2D(
        5, 3, strides=2, padding="same", depth_multiplier=2, activation="relu")),
    "SeparableConv2D-nobias": single((7, 6, 3), lambda k: k.layers.SeparableConv2D(
        4, 3, use_bias=False, dilation_rate=2)),
    "SeparableConv1D": single((9, 3), lambda k: k.layers.SeparableConv1D(4, 3, padding="same")),
    # 3D
    "Conv3D": single((5, 6, 4, 2), lambda k: k.layers.Conv3D(3, 2)),
    "Conv3D-same-s2": single((5, 6, 4, 2), lambda k: k.layers.Conv3D(3, 3, strides=2,
                                                                     padding="same")),
    "MaxPooling3D": single((4, 6, 5, 2), lambda k: k.layers.MaxPooling3D(2)),
    "AveragePooling3D-same": single((5, 5, 5, 2), lambda k: k.layers.AveragePooling3D(
        2, padding="same")),
    "GlobalMaxPooling3D": single((3, 4, 5, 2), lambda k: k.layers.GlobalMaxPooling3D()),
    "GlobalAveragePooling3D": single((3, 4, 5, 2), lambda k: k.layers.GlobalAveragePooling3D()),
    "ZeroPadding3D": single((3, 4, 5, 2), lambda k: k.layers.ZeroPadding3D(((1, 0), (2, 1),
                                                                             (0, 1)))),
    "Cropping3D": single((5, 6, 5, 2), lambda k: k.layers.Cropping3D(((1, 0), (2, 1), (0, 1)))),
    # transposed convolutions
    "Conv2DTranspose": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(4, 3)),
    "Conv2DTranspose-s2-same": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(
        4, 3, strides=2, padding="same")),
    "Conv2DTranspose-s2-valid": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(
        4, 3, strides=2)),
    "Conv2DTranspose-s2-k2": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(
        4, 2, strides=2, padding="same")),
    "Conv2DTranspose-outpad": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(
        4, 3, strides=2, padding="same", output_padding=1)),
    "Conv2DTranspose-outpad-valid": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(
        4, 3, strides=(3, 2), output_padding=(1, 0))),
    "Conv2DTranspose-dilated": single((4, 5, 3), lambda k: k.layers.Conv2DTranspose(
        4, 3, dilation_rate=2, padding="same", use_bias=False)),
    "Conv1DTranspose": single((6, 3), lambda k: k.layers.Conv1DTranspose(4, 3, strides=2)),
    "Conv1DTranspose-same": single((6, 3), lambda k: k.layers.Conv1DTranspose(
        4, 4, strides=2, padding="same")),
    "Conv3DTranspose": single((3, 4, 3, 2), lambda k: k.layers.Conv3DTranspose(
        3, 2, strides=2, padding="same")),
    # upsampling
    "UpSampling1D": single((4, 3), lambda k: k.layers.UpSampling1D(3)),
    "UpSampling2D": single((4, 5, 3), lambda k: k.layers.UpSampling2D((2, 3))),
    "UpSampling2D-bilinear": single((4, 5, 3), lambda k: k.layers.UpSampling2D(
        2, interpolation="bilinear")),
    "UpSampling2D-bilinear-3x2": single((4, 5, 3), lambda k: k.layers.UpSampling2D(
        (3, 2), interpolation="bilinear")),
    "UpSampling3D": single((2, 3, 2, 2), lambda k: k.layers.UpSampling3D((2, 1, 3))),
    # preprocessing
    "Rescaling": single((4, 4, 3), lambda k: k.layers.Rescaling(1 / 127.5, offset=-1)),
    "Rescaling-channels": single((4, 4, 3), lambda k: k.layers.Rescaling([0.5, 2.0, 3.0],
                                                                         offset=[1.0, 0, -1])),
    "Normalization-stored": single((4, 4, 3), lambda k: k.layers.Normalization(
        mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1.0])),
    "Normalization-invert": single((4, 4, 3), lambda k: k.layers.Normalization(
        mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1.0], invert=True)),
    "Normalization-scalar": single((6,), lambda k: k.layers.Normalization(mean=2.0,
                                                                          variance=9.0)),
    "Resizing-bilinear": single((7, 9, 3), lambda k: k.layers.Resizing(5, 4)),
    "Resizing-up": single((4, 5, 3), lambda k: k.layers.Resizing(9, 7)),
    "Resizing-nearest": single((7, 9, 3), lambda k: k.layers.Resizing(
        5, 12, interpolation="nearest")),
    "Resizing-crop": single((7, 12, 3), lambda k: k.layers.Resizing(
        5, 5, crop_to_aspect_ratio=True)),
    "CenterCrop": single((7, 9, 3), lambda k: k.layers.CenterCrop(4, 5)),
    "CenterCrop-odd": single((8, 9, 3), lambda k: k.layers.CenterCrop(5, 2)),
    # normalization computed from the input
    "LayerNormalization": single((5, 6), lambda k: k.layers.LayerNormalization()),
    "LayerNormalization-axes": single((4, 5, 6), lambda k: k.layers.LayerNormalization(
        axis=[1, 2], epsilon=0.01)),
    "LayerNormalization-nocenter": single((5, 6), lambda k: k.layers.LayerNormalization(
        center=False)),
    "LayerNormalization-noscale": single((5, 6), lambda k: k.layers.LayerNormalization(
        scale=False)),
    "LayerNormalization-rms": single((5, 6), lambda k: k.layers.LayerNormalization(
        rms_scaling=True)),
    "GroupNormalization": single((4, 5, 6), lambda k: k.layers.GroupNormalization(3)),
    "GroupNormalization-1d": single((7, 8), lambda k: k.layers.GroupNormalization(
        4, epsilon=0.1, center=False)),
    "UnitNormalization": single((5, 6), lambda k: k.layers.UnitNormalization()),
    "UnitNormalization-axes": single((4, 5, 6), lambda k: k.layers.UnitNormalization(
        axis=[1, 2])),
    "RMSNormalization": single((5, 6), lambda k: k.layers.RMSNormalization()),
    "Identity": single((5, 6), lambda k: k.layers.Identity()),
}


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_vision_layer_parity(case, flavour, ext, tmp_path):
    check_parity(CASES[case], flavour, ext, tmp_path)
