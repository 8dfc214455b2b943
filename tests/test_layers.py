"""Per-layer parity with real Keras (Keras 3 and Keras 2, .keras and .h5), every option the
foundation supports. Tolerance: keras_models.TOL (1e-5 of the output scale)."""

from __future__ import annotations

import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity


def single(shape, make, dtype="float32"):
    """A model: Input(shape) -> make(k)(input)."""

    def build(k):
        inp = k.Input(shape, dtype=dtype)
        out = make(k)(inp)
        return k.Model(inp, out)

    return build


ACTIVATIONS = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
               "hard_sigmoid", "silu", "swish", "hard_silu", "hard_swish", "mish", "softplus",
               "softsign", "tanh", "exponential", "softmax", "log_softmax"]

CASES = {
    # activations as a layer and inside Dense
    **{f"Activation-{a}": single((5, 7), lambda k, a=a: k.layers.Activation(a))
       for a in ACTIVATIONS},
    **{f"Dense-act-{a}": single((6,), lambda k, a=a: k.layers.Dense(4, activation=a))
       for a in ("relu", "gelu", "softmax", "sigmoid", "tanh")},
    # activation layers
    "ReLU": single((4, 6), lambda k: k.layers.ReLU()),
    "ReLU-max": single((4, 6), lambda k: k.layers.ReLU(max_value=0.7)),
    "ReLU-max6": single((4, 6), lambda k: k.layers.ReLU(max_value=6.0)),
    "ReLU-slope": single((4, 6), lambda k: k.layers.ReLU(negative_slope=0.1)),
    "ReLU-threshold": single((4, 6), lambda k: k.layers.ReLU(threshold=0.3)),
    "ReLU-all": single((4, 6), lambda k: k.layers.ReLU(max_value=1.2, negative_slope=0.2,
                                                       threshold=0.4)),
    "LeakyReLU": single((4, 6), lambda k: k.layers.LeakyReLU()),
    "LeakyReLU-0.05": single((4, 6), lambda k: k.layers.LeakyReLU(0.05)),
    "PReLU": single((4, 6), lambda k: k.layers.PReLU()),
    "PReLU-shared": single((5, 4, 3), lambda k: k.layers.PReLU(shared_axes=[1, 2])),
    "ELU": single((4, 6), lambda k: k.layers.ELU(alpha=0.5)),
    "Softmax": single((4, 6), lambda k: k.layers.Softmax()),
    "Softmax-axis1": single((4, 6), lambda k: k.layers.Softmax(axis=1)),
    "Softmax-axes": single((3, 4, 5), lambda k: k.layers.Softmax(axis=[1, 2])),
    # identity at inference
    "Dropout": single((4, 6), lambda k: k.layers.Dropout(0.5)),
    "SpatialDropout1D": single((4, 6), lambda k: k.layers.SpatialDropout1D(0.5)),
    "SpatialDropout2D": single((4, 4, 3), lambda k: k.layers.SpatialDropout2D(0.5)),
    "SpatialDropout3D": single((3, 3, 3, 2), lambda k: k.layers.SpatialDropout3D(0.5)),
    "GaussianNoise": single((6,), lambda k: k.layers.GaussianNoise(1.0)),
    "GaussianDropout": single((6,), lambda k: k.layers.GaussianDropout(0.4)),
    "AlphaDropout": single((6,), lambda k: k.layers.AlphaDropout(0.4)),
    "ActivityRegularization": single((6,), lambda k: k.layers.ActivityRegularization(0.1, 0.1)),
    # Dense
    "Dense": single((6,), lambda k: k.layers.Dense(5)),
    "Dense-nobias": single((6,), lambda k: k.layers.Dense(5, use_bias=False)),
    "Dense-rank3": single((4, 6), lambda k: k.layers.Dense(5)),
    "Dense-rank4": single((3, 4, 6), lambda k: k.layers.Dense(2, activation="relu")),
    "Dense-int-input": single((6,), lambda k: k.layers.Dense(3), dtype="int32"),
    # Conv1D
    "Conv1D": single((11, 3), lambda k: k.layers.Conv1D(4, 3)),
    "Conv1D-same-odd": single((11, 3), lambda k: k.layers.Conv1D(4, 4, padding="same")),
    "Conv1D-same-stride": single((11, 3), lambda k: k.layers.Conv1D(4, 3, strides=2,
                                                                    padding="same")),
    "Conv1D-causal": single((11, 3), lambda k: k.layers.Conv1D(4, 3, padding="causal")),
    "Conv1D-causal-dilated": single((11, 3), lambda k: k.layers.Conv1D(
        4, 3, padding="causal", dilation_rate=2)),
    "Conv1D-dilated": single((11, 3), lambda k: k.layers.Conv1D(4, 3, dilation_rate=3)),
    "Conv1D-groups": single((11, 4), lambda k: k.layers.Conv1D(6, 3, groups=2)),
    "Conv1D-nobias": single((11, 3), lambda k: k.layers.Conv1D(4, 3, use_bias=False,
                                                               activation="relu")),
    "Conv1D-free-length": single((None, 3), lambda k: k.layers.Conv1D(4, 3, padding="same")),
    # Conv2D
    "Conv2D": single((9, 8, 3), lambda k: k.layers.Conv2D(4, 3)),
    "Conv2D-same": single((9, 8, 3), lambda k: k.layers.Conv2D(4, 3, padding="same")),
    "Conv2D-same-even-kernel": single((9, 8, 3), lambda k: k.layers.Conv2D(4, 2,
                                                                           padding="same")),
    "Conv2D-same-stride2": single((9, 8, 3), lambda k: k.layers.Conv2D(
        4, 3, strides=2, padding="same")),
    "Conv2D-same-stride-asym": single((10, 7, 3), lambda k: k.layers.Conv2D(
        4, (3, 4), strides=(2, 3), padding="same")),
    "Conv2D-valid-stride": single((9, 8, 3), lambda k: k.layers.Conv2D(4, 3, strides=2)),
    "Conv2D-dilated": single((9, 8, 3), lambda k: k.layers.Conv2D(4, 3, dilation_rate=2,
                                                                  padding="same")),
    "Conv2D-groups": single((6, 6, 6), lambda k: k.layers.Conv2D(9, 3, groups=3)),
    "Conv2D-groups-depthwise": single((6, 6, 6), lambda k: k.layers.Conv2D(6, 3, groups=6,
                                                                           padding="same")),
    "Conv2D-1x1": single((5, 5, 6), lambda k: k.layers.Conv2D(7, 1)),
    "Conv2D-1x1-stride": single((5, 5, 6), lambda k: k.layers.Conv2D(7, 1, strides=2)),
    "Conv2D-nobias": single((6, 6, 3), lambda k: k.layers.Conv2D(4, 3, use_bias=False)),
    "Conv2D-free-hw": single((None, None, 3), lambda k: k.layers.Conv2D(4, 3, padding="same",
                                                                        activation="elu")),
    # pooling
    "MaxPooling1D": single((9, 3), lambda k: k.layers.MaxPooling1D()),
    "MaxPooling1D-same": single((9, 3), lambda k: k.layers.MaxPooling1D(3, 2, padding="same")),
    "AveragePooling1D": single((9, 3), lambda k: k.layers.AveragePooling1D(3, 1)),
    "AveragePooling1D-same": single((9, 3), lambda k: k.layers.AveragePooling1D(
        2, padding="same")),
    "MaxPooling2D": single((9, 8, 3), lambda k: k.layers.MaxPooling2D()),
    "MaxPooling2D-same": single((9, 7, 3), lambda k: k.layers.MaxPooling2D(
        3, 2, padding="same")),
    "MaxPooling2D-strides": single((9, 8, 3), lambda k: k.layers.MaxPooling2D((3, 2), (1, 2))),
    "AveragePooling2D": single((9, 8, 3), lambda k: k.layers.AveragePooling2D(2)),
    "AveragePooling2D-same": single((9, 7, 3), lambda k: k.layers.AveragePooling2D(
        3, 2, padding="same")),
    "AveragePooling2D-same-s1": single((5, 5, 2), lambda k: k.layers.AveragePooling2D(
        3, 1, padding="same")),
    "GlobalMaxPooling1D": single((7, 3), lambda k: k.layers.GlobalMaxPooling1D()),
    "GlobalAveragePooling1D": single((7, 3), lambda k: k.layers.GlobalAveragePooling1D()),
    "GlobalMaxPooling2D": single((5, 6, 3), lambda k: k.layers.GlobalMaxPooling2D()),
    "GlobalAveragePooling2D": single((5, 6, 3), lambda k: k.layers.GlobalAveragePooling2D()),
    "GlobalAveragePooling2D-keepdims": single((5, 6, 3), lambda k: (
        k.layers.GlobalAveragePooling2D(keepdims=True))),
    "GlobalMaxPooling1D-keepdims": single((7, 3), lambda k: k.layers.GlobalMaxPooling1D(
        keepdims=True)),
    # reshaping
    "Flatten": single((3, 4, 5), lambda k: k.layers.Flatten()),
    "Reshape": single((12,), lambda k: k.layers.Reshape((3, 4))),
    "Reshape-minus1": single((3, 4, 2), lambda k: k.layers.Reshape((-1, 2))),
    "Permute": single((3, 4, 5), lambda k: k.layers.Permute((3, 1, 2))),
    "ZeroPadding1D": single((5, 3), lambda k: k.layers.ZeroPadding1D(2)),
    "ZeroPadding1D-asym": single((5, 3), lambda k: k.layers.ZeroPadding1D((1, 3))),
    "ZeroPadding2D": single((4, 5, 3), lambda k: k.layers.ZeroPadding2D(1)),
    "ZeroPadding2D-asym": single((4, 5, 3), lambda k: k.layers.ZeroPadding2D(((1, 2), (3, 0)))),
    "Cropping1D": single((7, 3), lambda k: k.layers.Cropping1D((1, 2))),
    "Cropping2D": single((7, 6, 3), lambda k: k.layers.Cropping2D(((1, 2), (0, 3)))),
    "Cropping2D-int": single((7, 6, 3), lambda k: k.layers.Cropping2D(2)),
    # normalization
    "BatchNormalization": single((4, 5, 3), lambda k: k.layers.BatchNormalization()),
    "BatchNormalization-axis1": single((4, 5, 3), lambda k: k.layers.BatchNormalization(
        axis=1)),
    "BatchNormalization-dense": single((6,), lambda k: k.layers.BatchNormalization(
        epsilon=0.1)),
    "BatchNormalization-nocenter": single((5, 3), lambda k: k.layers.BatchNormalization(
        center=False)),
    "BatchNormalization-noscale": single((5, 3), lambda k: k.layers.BatchNormalization(
        scale=False)),
    "BatchNormalization-bare": single((5, 3), lambda k: k.layers.BatchNormalization(
        center=False, scale=False)),
}


def merge(layer_fn, shapes=((4, 5), (4, 5))):
    def build(k):
        inputs = [k.Input(s) for s in shapes]
        return k.Model(inputs, layer_fn(k)(inputs))

    return build


MERGES = {
    "Add": merge(lambda k: k.layers.Add(), ((4, 5), (4, 5), (4, 5))),
    "Subtract": merge(lambda k: k.layers.Subtract()),
    "Multiply": merge(lambda k: k.layers.Multiply()),
    "Average": merge(lambda k: k.layers.Average(), ((4, 5), (4, 5), (4, 5))),
    "Maximum": merge(lambda k: k.layers.Maximum()),
    "Minimum": merge(lambda k: k.layers.Minimum()),
    "Concatenate": merge(lambda k: k.layers.Concatenate()),
    "Concatenate-axis1": merge(lambda k: k.layers.Concatenate(axis=1), ((4, 5), (2, 5))),
    "Concatenate-3": merge(lambda k: k.layers.Concatenate(axis=-1), ((4, 1), (4, 2), (4, 3))),
}
CASES.update(MERGES)


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_parity(case, flavour, ext, tmp_path):
    check_parity(CASES[case], flavour, ext, tmp_path)
