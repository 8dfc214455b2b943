"""Parity of the adaptive poolings and of the categorical preprocessing layers (CategoryEncoding,
Discretization, IntegerLookup) with real Keras (Keras 3 and, where the layer exists there,
Keras 2; .keras and .h5), and the messages for the string layers kerasport refuses.
Tolerance: keras_models.TOL (1e-5 of the output scale)."""

from __future__ import annotations

import keras_models
import numpy as np
import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity, keras_module, save
from test_layers import single

import kerasport
from kerasport.errors import KerasportError, UnsupportedLayerError

K3_FORMATS = [f for f in FORMATS if f[0] == "k3"]
K3_IDS = [f"{k}-{ext}" for k, ext in K3_FORMATS]

def adaptive(name, shape, output_size):
    """A model: Input(shape) -> keras.layers.<name>(output_size)."""
    return single(shape, lambda k: getattr(k.layers, name)(output_size))


ADAPTIVE = {
    "AdaptiveAveragePooling1D-uniform": adaptive("AdaptiveAveragePooling1D", (12, 3), 4),
    "AdaptiveAveragePooling1D-uneven": adaptive("AdaptiveAveragePooling1D", (10, 3), 4),
    "AdaptiveMaxPooling1D-uneven": adaptive("AdaptiveMaxPooling1D", (11, 3), 3),
    "AdaptiveMaxPooling1D-upsample": adaptive("AdaptiveMaxPooling1D", (3, 2), 5),
    "AdaptiveAveragePooling2D-uniform": adaptive("AdaptiveAveragePooling2D", (8, 6, 3), (4, 3)),
    "AdaptiveAveragePooling2D-mixed": adaptive("AdaptiveAveragePooling2D", (7, 8, 3), (3, 4)),
    "AdaptiveAveragePooling2D-uneven": adaptive("AdaptiveAveragePooling2D", (7, 9, 2), (3, 4)),
    "AdaptiveMaxPooling2D-uneven": adaptive("AdaptiveMaxPooling2D", (7, 9, 3), (5, 2)),
    "AdaptiveMaxPooling2D-identity": adaptive("AdaptiveMaxPooling2D", (4, 4, 2), 4),
    "AdaptiveAveragePooling3D": adaptive("AdaptiveAveragePooling3D", (5, 6, 7, 2), (2, 3, 3)),
    "AdaptiveMaxPooling3D": adaptive("AdaptiveMaxPooling3D", (5, 6, 7, 2), (2, 3, 3)),
}


@pytest.mark.parametrize(("flavour", "ext"), K3_FORMATS, ids=K3_IDS)
@pytest.mark.parametrize("case", sorted(ADAPTIVE))
def test_adaptive_pooling_parity(case, flavour, ext, tmp_path):
    check_parity(ADAPTIVE[case], flavour, ext, tmp_path)


def test_adaptive_pooling_channels_first_is_refused(tmp_path):
    k = keras_module("k3")
    inp = k.Input((3, 8, 8))
    model = k.Model(inp, k.layers.AdaptiveAveragePooling2D(2, data_format="channels_first",
                                                           name="cf")(inp))
    path = save(model, tmp_path / "cf.keras")
    with pytest.raises(UnsupportedLayerError) as info:
        kerasport.load(path)
    (issue,) = info.value.issues
    assert issue.key == "data_format" and "channels_last" in issue.reason


def adapted(make, data):
    """A model Input -> make(k) adapted on ``data`` (an array; its dtype is the input's)."""

    def build(k):
        layer = make(k)
        layer.adapt(data)
        inp = k.Input(data.shape[1:], dtype=str(data.dtype))
        return k.Model(inp, layer(inp))

    return build


RNG = np.random.default_rng(5)
FLOATS = RNG.standard_normal((200, 4)).astype(np.float32)
INTS = RNG.integers(0, 9, (40, 4)).astype(np.int64)
VOCAB = [1, 2, 3, 7]

CATEGORICAL = {
    # CategoryEncoding (int ids in [0, 5): tf_keras asserts ids < num_tokens)
    "CategoryEncoding-one_hot": single((1,), lambda k: k.layers.CategoryEncoding(
        5, output_mode="one_hot"), "int32"),
    "CategoryEncoding-one_hot-scalar": single((), lambda k: k.layers.CategoryEncoding(
        6, output_mode="one_hot"), "int64"),
    "CategoryEncoding-one_hot-seq": single((3,), lambda k: k.layers.CategoryEncoding(
        6, output_mode="one_hot"), "int32"),
    "CategoryEncoding-multi_hot": single((4,), lambda k: k.layers.CategoryEncoding(
        6, output_mode="multi_hot"), "int32"),
    "CategoryEncoding-count": single((5,), lambda k: k.layers.CategoryEncoding(
        6, output_mode="count"), "int64"),
    "CategoryEncoding-count-rank3": single((2, 3), lambda k: k.layers.CategoryEncoding(
        6, output_mode="count"), "int32"),
    # Discretization (float inputs, standard normal)
    "Discretization-int": single((4,), lambda k: k.layers.Discretization(
        bin_boundaries=[-0.5, 0.0, 0.7])),
    "Discretization-one_hot": single((1,), lambda k: k.layers.Discretization(
        bin_boundaries=[-0.5, 0.0, 0.7], output_mode="one_hot")),
    "Discretization-multi_hot": single((5,), lambda k: k.layers.Discretization(
        bin_boundaries=[-1.0, 0.0, 0.5, 1.5], output_mode="multi_hot")),
    "Discretization-count": single((5,), lambda k: k.layers.Discretization(
        bin_boundaries=[-1.0, 0.0, 0.5, 1.5], output_mode="count")),
    "Discretization-adapted": adapted(lambda k: k.layers.Discretization(num_bins=4), FLOATS),
    "Discretization-adapted-many": adapted(lambda k: k.layers.Discretization(
        num_bins=7, epsilon=0.05), FLOATS),
    "Discretization-int-input": single((4,), lambda k: k.layers.Discretization(
        bin_boundaries=[1.0, 2.5, 3.0]), "int32"),
    # IntegerLookup (int inputs in [0, 9): some out of VOCAB, 0 is the mask token where set)
    "IntegerLookup-int": single((4,), lambda k: k.layers.IntegerLookup(vocabulary=VOCAB),
                                "int64"),
    "IntegerLookup-int32-input": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB), "int32"),
    "IntegerLookup-mask": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, mask_token=0), "int64"),
    "IntegerLookup-oov2": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, num_oov_indices=2), "int64"),
    "IntegerLookup-oov3-mask": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, num_oov_indices=3, mask_token=0), "int64"),
    "IntegerLookup-special-in-vocab": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=[0, -1, *VOCAB], mask_token=0), "int64"),
    "IntegerLookup-invert": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, invert=True), "int64"),
    "IntegerLookup-invert-mask": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, invert=True, mask_token=0, oov_token=-7), "int64"),
    "IntegerLookup-one_hot": single((1,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, output_mode="one_hot"), "int64"),
    "IntegerLookup-multi_hot": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, output_mode="multi_hot"), "int64"),
    "IntegerLookup-multi_hot-mask": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, output_mode="multi_hot", mask_token=0), "int64"),
    "IntegerLookup-count-pad": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, output_mode="count", max_tokens=9, pad_to_max_tokens=True), "int64"),
    "IntegerLookup-tf_idf": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=VOCAB, output_mode="tf_idf", idf_weights=[0.5, 0.25, 1.5, 2.0]), "int64"),
    "IntegerLookup-tf_idf-special": single((4,), lambda k: k.layers.IntegerLookup(
        vocabulary=[-1, *VOCAB], output_mode="tf_idf",
        idf_weights=[0.9, 0.5, 0.25, 1.5, 2.0]), "int64"),
    # Hashing: FarmHash64 of the decimal form
    "Hashing": single((6,), lambda k: k.layers.Hashing(7), "int64"),
    "Hashing-int32": single((6,), lambda k: k.layers.Hashing(1000), "int32"),
    "Hashing-mask": single((6,), lambda k: k.layers.Hashing(5, mask_value=0), "int64"),
    "Hashing-one_hot": single((1,), lambda k: k.layers.Hashing(4, output_mode="one_hot"),
                              "int64"),
    "Hashing-multi_hot": single((6,), lambda k: k.layers.Hashing(
        5, output_mode="multi_hot"), "int64"),
    "Hashing-count-mask": single((6,), lambda k: k.layers.Hashing(
        6, mask_value=3, output_mode="count"), "int64"),
}


# Keras 3 only: ids outside [0, num_tokens) (tf_keras asserts), counted nowhere
K3_CATEGORICAL = {
    "CategoryEncoding-out-of-range": single((4,), lambda k: k.layers.CategoryEncoding(
        3, output_mode="multi_hot"), "int64"),
    "CategoryEncoding-one_hot-out-of-range": single((3,), lambda k: k.layers.CategoryEncoding(
        4, output_mode="one_hot"), "int64"),
    # floats are truncated to int64 before hashing (tf_keras refuses them)
    "Hashing-float": single((6,), lambda k: k.layers.Hashing(9)),
}


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(CATEGORICAL))
def test_categorical_parity(case, flavour, ext, tmp_path, monkeypatch):
    # adapted state (tf_keras' Discretization summary) must stay as adapt() left it
    monkeypatch.setattr(keras_models, "randomize", lambda model, seed=0: None)
    int_high = 5 if case.startswith("CategoryEncoding") else 9
    check_parity(CATEGORICAL[case], flavour, ext, tmp_path, int_high=int_high)


@pytest.mark.parametrize(("flavour", "ext"), K3_FORMATS, ids=K3_IDS)
@pytest.mark.parametrize("case", sorted(K3_CATEGORICAL))
def test_categorical_parity_keras3(case, flavour, ext, tmp_path):
    check_parity(K3_CATEGORICAL[case], flavour, ext, tmp_path, int_high=9)




def refused(k, name):
    """Models holding the layers kerasport refuses."""
    L = k.layers
    if name == "StringLookup":
        inp = k.Input((3,), dtype="string")
        return k.Model(inp, L.StringLookup(vocabulary=["a", "b"], name="layer")(inp))
    if name == "TextVectorization":
        inp = k.Input((1,), dtype="string")
        return k.Model(inp, L.TextVectorization(vocabulary=["a", "b"], name="layer")(inp))
    if name == "HashedCrossing":
        a, b = k.Input((1,), dtype="int64"), k.Input((1,), dtype="int64")
        return k.Model([a, b], L.HashedCrossing(5, name="layer")((a, b)))
    if name == "Hashing-salted":
        inp = k.Input((3,), dtype="int64")
        return k.Model(inp, L.Hashing(7, salt=13, name="layer")(inp))
    layer = L.IntegerLookup(output_mode="multi_hot", name="layer")
    layer.adapt(INTS)
    inp = k.Input((4,), dtype="int64")
    return k.Model(inp, layer(inp))


# adapted vocabularies: Keras 3 keeps them in the .keras archive's assets/ (read), tf_keras
# in the layer's config (read), and Keras 3's .h5 writer loses them (refused, below)
ADAPTED_LOOKUPS = {
    "int": adapted(lambda k: k.layers.IntegerLookup(), INTS),
    "multi_hot": adapted(lambda k: k.layers.IntegerLookup(output_mode="multi_hot"), INTS),
    "mask-oov2": adapted(lambda k: k.layers.IntegerLookup(mask_token=0, num_oov_indices=2),
                         INTS),
    "tf_idf": adapted(lambda k: k.layers.IntegerLookup(output_mode="tf_idf"), INTS),
}


@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize("case", sorted(ADAPTED_LOOKUPS))
def test_adapted_integer_lookup_parity(case, flavour, tmp_path, monkeypatch):
    if case == "tf_idf" and flavour == "k2":
        pytest.skip("tf_keras 2.21's own predict fails on an adapted tf_idf IntegerLookup")
    monkeypatch.setattr(keras_models, "randomize", lambda model, seed=0: None)
    check_parity(ADAPTED_LOOKUPS[case], flavour, "keras", tmp_path, int_high=9)


@pytest.mark.parametrize(("name", "words", "ext"), [
    ("HashedCrossing", "cross", "keras"), ("Hashing-salted", "SipHash", "keras"),
    ("IntegerLookup-adapted", "adapted vocabulary", "h5")])
@pytest.mark.parametrize("flavour", ["k3", "k2"])
def test_refused_with_a_reason(name, words, ext, flavour, tmp_path):
    model = refused(keras_module(flavour), name)
    if name == "IntegerLookup-adapted" and flavour == "k2":
        pytest.skip("tf_keras keeps the adapted vocabulary in the .h5 config (read)")
    path = save(model, tmp_path / f"model.{ext}")
    with pytest.raises(UnsupportedLayerError) as info:
        kerasport.load(path)
    (issue,) = info.value.issues
    assert issue.layer == "layer" and words in issue.reason and issue.hint


@pytest.mark.parametrize("name", ["StringLookup", "TextVectorization"])
@pytest.mark.parametrize("flavour", ["k3", "k2"])
def test_string_layers_are_refused(name, flavour, tmp_path):
    model = refused(keras_module(flavour), name)
    path = save(model, tmp_path / "model.keras")
    with pytest.raises(KerasportError, match="string"):
        kerasport.load(path)


def every_new_op(k):
    """Bucketize, Lookup (with OOV buckets and invert), CategoryEncode, AutoContrast and the
    adaptive pooling's Crop/Reduce/Concat in one Keras 3 model."""
    L = k.layers
    img = k.Input((7, 9, 3), name="img")
    ids = k.Input((4,), dtype="int64", name="ids")
    x = L.AutoContrast(value_range=(-2, 2))(img)
    x = L.Flatten()(L.AdaptiveMaxPooling2D((3, 4))(x))
    bins = L.Discretization(bin_boundaries=[-0.5, 0.5], output_mode="one_hot")(
        L.Reshape((1,))(L.Dense(1)(x)))
    found = L.IntegerLookup(vocabulary=VOCAB, num_oov_indices=2)(ids)
    back = L.IntegerLookup(vocabulary=VOCAB, invert=True, mask_token=0, oov_token=5)(found)
    counts = L.CategoryEncoding(8, output_mode="count")(back)
    hot = L.IntegerLookup(vocabulary=VOCAB, output_mode="multi_hot")(ids)
    return k.Model([img, ids], [x, bins, counts, hot, found])


@pytest.mark.parametrize("opset", [13, 18, None])
def test_onnx_opsets(opset, tmp_path):
    onnx = pytest.importorskip("onnx")
    k = keras_module("k3")
    model = every_new_op(k)
    inputs = keras_models.random_inputs(model, int_high=9)
    want = keras_models.keras_outputs(model, inputs)
    m = kerasport.load(save(model, tmp_path / "model.keras"))
    got = m.predict(inputs)
    assert keras_models.max_error(got, want) <= keras_models.TOL
    keras_models.check_onnx(m, inputs, got, opset=opset or onnx.defs.onnx_opset_version())
