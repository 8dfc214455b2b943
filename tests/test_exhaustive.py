"""One "exhaustive" model holding every layer class kerasport converts, in all four formats.
A new converter without a place in this model fails test_every_converter_is_exercised."""

from __future__ import annotations

import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity, keras_module

from kerasport.keras.registry import CONVERTERS, load_builtin_converters

# classes that cannot appear in a plain keras.layers model (application classes, Keras 2's
# TFOpLambda, Keras 3 operation nodes): covered by the zoo tests instead
NOT_HERE = {"LayerScale", "StochasticDepth", "CustomScaleLayer", "TFOpLambda"}
# augmentation layers that are the identity at inference (several of which Keras 3 cannot
# save to .h5, Equalization cannot even be traced), tf_keras-only ones, Hashing (no ONNX form:
# it would turn this model's ONNX check off) and the layers kerasport refuses with a reason:
# covered by test_augmentation.py and test_preprocessing_layers.py
NOT_HERE |= {
    "RandomBrightness", "RandomHeight", "RandomWidth", "AugMix", "CutMix", "MixUp",
    "RandAugment", "Solarization", "RandomGrayscale", "RandomHue", "RandomSaturation",
    "RandomSharpness", "RandomShear", "RandomColorJitter", "RandomColorDegeneration",
    "RandomPosterization", "RandomInvert", "RandomElasticTransform", "RandomErasing",
    "RandomGaussianBlur", "RandomPerspective", "Equalization", "MaxNumBoundingBoxes",
    "ContrastLimitedAdaptiveHistogramEqualization", "StringLookup", "TextVectorization",
    "Hashing", "HashedCrossing"}


def exhaustive(k):
    L = k.layers
    img = k.Input((16, 16, 3), name="image")
    seq = k.Input((12, 4), name="sequence")
    vol = k.Input((4, 6, 6, 2), name="volume")
    tokens = k.Input((10,), dtype="int32", name="tokens")

    x = L.RandomFlip()(img)  # augmentation: the identity at inference
    x = L.RandomRotation(0.1)(x)
    x = L.RandomZoom(0.1)(x)
    x = L.RandomContrast(0.2)(x)
    x = L.RandomTranslation(0.1, 0.1)(x)
    x = L.RandomCrop(16, 16)(x)
    if hasattr(L, "AutoContrast"):  # Keras 3 only
        x = L.AutoContrast(value_range=(-3, 3))(x)
    x = L.Rescaling(1 / 2.0, offset=0.1)(x)
    x = L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 0.5])(x)
    x = L.Resizing(14, 14)(x)
    x = L.CenterCrop(12, 12)(x)
    x = L.ZeroPadding2D(1)(x)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    x = L.BatchNormalization()(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.SeparableConv2D(6, 3, padding="same")(x)
    x = L.Conv2D(6, 3, padding="same", groups=3, dilation_rate=2)(x)
    x = L.PReLU(shared_axes=[1, 2])(x)
    x = L.LayerNormalization()(x)
    x = L.GroupNormalization(3)(x)
    x = L.SpatialDropout2D(0.2)(x)
    a = L.MaxPooling2D(padding="same")(x)
    b = L.AveragePooling2D(2, padding="same")(x)
    x = L.Add()([a, b])
    x = L.Subtract()([x, a])
    x = L.Multiply()([x, b])
    x = L.Average()([x, a, b])
    x = L.Maximum()([x, a])
    x = L.Minimum()([x, b])
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.UpSampling2D(2, interpolation="bilinear")(x)
    x = L.Cropping2D(((1, 1), (2, 0)))(x)
    x = L.ReLU(max_value=6.0)(x)
    x = L.LeakyReLU(0.1)(x)
    x = L.ELU(0.5)(x)
    x = L.Softmax(axis=[1, 2])(x)
    x = L.UnitNormalization()(x)
    x = L.Identity()(x)
    if hasattr(L, "AdaptiveAveragePooling2D"):  # Keras 3 only
        x = L.AdaptiveAveragePooling2D((5, 7))(x)
        x = L.AdaptiveMaxPooling2D((4, 7))(x)
    g1 = L.GlobalMaxPooling2D()(x)
    g2 = L.GlobalAveragePooling2D()(x)

    s = L.ZeroPadding1D((1, 2))(seq)
    s = L.Conv1D(5, 3, padding="causal", activation="gelu")(s)
    s = L.DepthwiseConv1D(3, padding="same")(s)
    s = L.SeparableConv1D(5, 3, padding="same")(s)
    s = L.Conv1DTranspose(5, 3, strides=2)(s)
    s = L.Cropping1D((1, 1))(s)
    s = L.UpSampling1D(2)(s)
    s = L.SpatialDropout1D(0.1)(s)
    s = L.MaxPooling1D(2)(s)
    s = L.AveragePooling1D(2, padding="same")(s)
    if hasattr(L, "AdaptiveMaxPooling1D"):  # Keras 3 only
        s = L.AdaptiveMaxPooling1D(4)(s)
        s = L.AdaptiveAveragePooling1D(3)(s)
    if hasattr(L, "RMSNormalization"):  # Keras 3.9+ only
        s = L.RMSNormalization()(s)
    s = L.Permute((2, 1))(s)
    s = L.Reshape((-1, 5))(s)
    g3 = L.GlobalMaxPooling1D()(s)
    g4 = L.GlobalAveragePooling1D()(s)

    v = L.ZeroPadding3D(1)(vol)
    v = L.Conv3D(3, 3, activation="tanh")(v)
    v = L.Conv3DTranspose(3, 2, strides=2)(v)
    v = L.Cropping3D(1)(v)
    v = L.UpSampling3D((1, 2, 1))(v)
    v = L.SpatialDropout3D(0.1)(v)
    v = L.MaxPooling3D(2)(v)
    v = L.AveragePooling3D((1, 2, 2))(v)
    if hasattr(L, "AdaptiveMaxPooling3D"):  # Keras 3 only
        v = L.AdaptiveMaxPooling3D((2, 3, 2))(v)
        v = L.AdaptiveAveragePooling3D((2, 2, 1))(v)
    g5 = L.GlobalMaxPooling3D()(v)
    g6 = L.GlobalAveragePooling3D()(v)

    # sequences: masks from Embedding(mask_zero=True) and Masking reach the recurrent layers
    t = L.Embedding(20, 6, mask_zero=True)(tokens)
    t = L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode="sum")(t)
    t = L.GRU(5, return_sequences=True, go_backwards=True)(t)
    t = L.SimpleRNN(4, return_sequences=True)(t)
    t = L.TimeDistributed(L.Dense(4))(t)
    t = L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(3)]), return_sequences=True)(t)
    g7 = L.GlobalAveragePooling1D()(t)
    r = L.RepeatVector(3)(g7)
    r = L.Masking(0.0)(L.ReLU()(r))
    g8 = L.LSTM(3)(r)
    # attention on unmasked token embeddings
    e = L.Embedding(20, 8)(tokens)
    a = L.MultiHeadAttention(2, 4)(e, e, use_causal_mask=True)
    a = L.Attention(use_scale=True)([a, e])
    a = L.AdditiveAttention()([a, e])
    if hasattr(L, "GroupQueryAttention"):  # Keras 3 only
        a = L.GroupQueryAttention(4, 2, 1)(a, a)
    a = L.EinsumDense("abc,cd->abd", output_shape=(10, 6), bias_axes="d")(a)
    g12 = L.Flatten()(L.Dot(axes=(1, 1))([a, a]))
    c1 = L.ConvLSTM1D(2, 3)(L.Reshape((3, 4, 4))(seq))
    c2 = L.ConvLSTM2D(2, 3, padding="same")(vol)
    c3 = L.ConvLSTM3D(2, 2)(L.Reshape((2, 3, 6, 4, 2))(vol))
    g9 = L.Flatten()(c1)
    g10 = L.GlobalMaxPooling2D()(c2)
    g11 = L.GlobalAveragePooling3D()(c3)

    # categorical preprocessing of the token ids and of a float feature
    g13 = L.CategoryEncoding(6, output_mode="multi_hot")(tokens)
    ids = L.IntegerLookup(vocabulary=[1, 2, 3], mask_token=0)(tokens)
    g14 = L.GlobalAveragePooling1D()(L.Embedding(5, 3)(ids))
    g15 = L.Discretization(bin_boundaries=[-0.1, 0.1], output_mode="count")(g7)
    h = L.Concatenate()([g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11, g12, g13, g14, g15])
    h = L.Dropout(0.3)(h)
    h = L.GaussianNoise(0.1)(h)
    h = L.GaussianDropout(0.1)(h)
    h = L.AlphaDropout(0.1)(h)
    h = L.ActivityRegularization(0.01)(h)
    h = L.Dense(16, activation="selu")(h)
    h = L.Activation("swish")(h)
    h = L.Flatten()(h)
    out1 = L.Dense(4, activation="softmax", name="probs")(h)
    out2 = L.Dense(1, activation="sigmoid", name="score")(h)
    return k.Model([img, seq, vol, tokens], [out1, out2])


def test_every_converter_is_exercised():
    load_builtin_converters()
    registered = {n for n in CONVERTERS if not n.startswith(("ops.", "Custom>"))} - NOT_HERE
    model = exhaustive(keras_module("k3"))
    used = {type(layer).__name__ for layer in model.layers}
    if "GroupedQueryAttention" in used:  # the name Keras 3 writes for that class
        used.add("GroupQueryAttention")
    assert registered - used == set(), "add these layers to the exhaustive model"


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
def test_exhaustive_parity(flavour, ext, tmp_path):
    check_parity(exhaustive, flavour, ext, tmp_path)
