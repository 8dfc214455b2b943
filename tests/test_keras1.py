"""Keras 1.x files (Keras 1.1-1.2 ``model.save``; no Keras that old installs on this Python):
fixtures laid out as Keras 1.2's saving code wrote them, with weights from an equivalent
tf_keras model, compared with that model's outputs. Tolerance: keras_models.TOL (1e-5 of the
output scale).

Keras 1.2 ``save_model``: ``keras_version`` "1.2.2"; a Sequential's config is the bare list of
its layers, the first holding ``batch_input_shape`` and ``input_dtype``; functional models are
``"class_name": "Model"`` with ``[[[name, node, index]]]`` inbound nodes; layer keys of that era
(``Convolution2D(nb_filter, nb_row, nb_col, border_mode, subsample, dim_ordering)``,
``Dense(output_dim)``, ``Dropout(p)``, ``Merge(mode)``, ``inner_activation``); weights named
``<layer>_W:0``, ``<layer>_b:0``, BatchNormalization's ``running_mean``/``running_std``
(the variance), Convolution1D's kernel as ``(length, 1, in, out)``.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from keras_models import TOL, keras_module, max_error, randomize

import kerasport
from kerasport.errors import UnsupportedLayerError


def _write_keras1_h5(path, config, weights: dict[str, list[tuple[str, np.ndarray]]]):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode() for n in weights]
        for layer, arrays in weights.items():
            lg = g.create_group(layer)
            names = [f"{layer}_{w}:0" for w, _ in arrays]
            lg.attrs["weight_names"] = [n.encode() for n in names]
            for n, (_, arr) in zip(names, arrays):
                lg.create_dataset(n, data=arr)


def _cnn(k):
    L = k.layers
    return k.Sequential([k.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same", activation="relu"),
                         L.BatchNormalization(), L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(),
                         L.Dense(6, activation="softmax")])


def _cnn_config(dim_ordering="tf"):
    return [
        {"class_name": "Convolution2D", "config": {
            "name": "convolution2d_1", "trainable": True, "nb_filter": 4, "nb_row": 3,
            "nb_col": 3, "init": "glorot_uniform", "activation": "relu", "border_mode": "same",
            "subsample": [1, 1], "dim_ordering": dim_ordering, "W_regularizer": None,
            "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True, "batch_input_shape": [None, 8, 8, 1],
            "input_dtype": "float32"}},
        {"class_name": "BatchNormalization", "config": {
            "name": "batchnormalization_1", "trainable": True, "epsilon": 0.001, "mode": 0,
            "axis": -1, "gamma_regularizer": None, "beta_regularizer": None,
            "momentum": 0.99}},
        {"class_name": "MaxPooling2D", "config": {
            "name": "maxpooling2d_1", "trainable": True, "pool_size": [2, 2],
            "strides": [2, 2], "border_mode": "valid", "dim_ordering": dim_ordering}},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True, "p": 0.25}},
        {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "output_dim": 6, "init": "glorot_uniform",
            "activation": "softmax", "W_regularizer": None, "b_regularizer": None,
            "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
            "bias": True, "input_dim": 64}}]


def _cnn_weights(model):
    conv, bn, _, _, _, dense = model.layers
    return {"convolution2d_1": list(zip(["W", "b"], conv.get_weights())),
            "batchnormalization_1": list(zip(["gamma", "beta", "running_mean", "running_std"],
                                             bn.get_weights())),
            "maxpooling2d_1": [], "dropout_1": [], "flatten_1": [],
            "dense_1": list(zip(["W", "b"], dense.get_weights()))}


def test_keras1_sequential_cnn(tmp_path):
    model = _cnn(keras_module("k2"))
    randomize(model)
    path = tmp_path / "keras1.h5"
    _write_keras1_h5(path, {"class_name": "Sequential", "config": _cnn_config()},
                     _cnn_weights(model))
    x = np.random.default_rng(0).standard_normal((5, 8, 8, 1)).astype(np.float32)
    err = max_error([kerasport.load(path).predict(x)], [model.predict(x, verbose=0)])
    assert err <= TOL


def test_keras1_channels_first_is_refused_clearly(tmp_path):
    model = _cnn(keras_module("k2"))
    path = tmp_path / "keras1_th.h5"
    _write_keras1_h5(path, {"class_name": "Sequential", "config": _cnn_config("th")},
                     _cnn_weights(model))
    with pytest.raises(UnsupportedLayerError, match="data_format"):
        kerasport.load(path)


def _seq_model(k):
    L = k.layers
    inp = k.Input((7,), dtype="int32")
    x = L.Embedding(10, 5)(inp)
    x = L.Conv1D(4, 3, padding="same", activation="relu")(x)
    a = L.LSTM(6, return_sequences=True, recurrent_activation="hard_sigmoid")(x)
    b = L.GRU(6, return_sequences=True, reset_after=False)(x)
    y = L.Concatenate()([a, b])
    y = L.MaxPooling1D(2)(y)
    s = L.Add()([L.GlobalAveragePooling1D()(y), L.GlobalMaxPooling1D()(y)])
    return k.Model(inp, L.Dense(3)(s))


def _layer(name, cls, cfg, inbound):
    return {"name": name, "class_name": cls, "config": {"name": name, "trainable": True, **cfg},
            "inbound_nodes": [[[n, 0, 0] for n in inbound]] if inbound else []}


def _seq_config():
    rnn = {"output_dim": 6, "return_sequences": True, "go_backwards": False,
           "stateful": False, "unroll": False, "consume_less": "cpu", "init": "glorot_uniform",
           "inner_init": "orthogonal", "activation": "tanh", "W_regularizer": None,
           "U_regularizer": None, "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0,
           "input_dim": 4, "input_length": None}
    layers = [
        _layer("input_1", "InputLayer", {"batch_input_shape": [None, 7],
                                         "input_dtype": "int32", "sparse": False}, []),
        _layer("embedding_1", "Embedding", {"input_dim": 10, "output_dim": 5,
                                            "init": "uniform", "input_length": 7,
                                            "mask_zero": False, "dropout": 0.0,
                                            "input_dtype": "int32"}, ["input_1"]),
        _layer("convolution1d_1", "Convolution1D", {
            "nb_filter": 4, "filter_length": 3, "init": "glorot_uniform", "activation": "relu",
            "border_mode": "same", "subsample_length": 1, "bias": True, "input_dim": 5,
            "input_length": 7}, ["embedding_1"]),
        _layer("lstm_1", "LSTM", {**rnn, "inner_activation": "hard_sigmoid",
                                  "forget_bias_init": "one"}, ["convolution1d_1"]),
        _layer("gru_1", "GRU", {**rnn, "inner_activation": "sigmoid"}, ["convolution1d_1"]),
        _layer("merge_1", "Merge", {"mode": "concat", "concat_axis": -1, "dot_axes": -1,
                                    "mode_type": "raw", "output_shape": None,
                                    "output_shape_type": "raw", "output_mask": None,
                                    "output_mask_type": "raw", "arguments": {}},
               ["lstm_1", "gru_1"]),
        _layer("maxpooling1d_1", "MaxPooling1D", {"pool_length": 2, "stride": None,
                                                  "border_mode": "valid"}, ["merge_1"]),
        _layer("globalaveragepooling1d_1", "GlobalAveragePooling1D", {}, ["maxpooling1d_1"]),
        _layer("globalmaxpooling1d_1", "GlobalMaxPooling1D", {}, ["maxpooling1d_1"]),
        _layer("merge_2", "Merge", {"mode": "sum", "concat_axis": -1, "dot_axes": -1,
                                    "mode_type": "raw", "arguments": {}},
               ["globalaveragepooling1d_1", "globalmaxpooling1d_1"]),
        _layer("dense_1", "Dense", {"output_dim": 3, "activation": "linear", "bias": True,
                                    "input_dim": 12}, ["merge_2"]),
    ]
    return {"class_name": "Model", "config": {
        "name": "model_1", "layers": layers, "input_layers": [["input_1", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]}}


def _seq_weights(model):
    by_class = {type(layer).__name__: layer.get_weights() for layer in model.layers}
    kernel, bias = by_class["Conv1D"]
    return {"input_1": [], "embedding_1": [("W", by_class["Embedding"][0])],
            "convolution1d_1": [("W", kernel[:, None]), ("b", bias)],
            "lstm_1": list(zip("WUb", by_class["LSTM"])),
            "gru_1": list(zip("WUb", by_class["GRU"])),
            "dense_1": list(zip("Wb", by_class["Dense"]))}


def test_keras1_functional_sequence_model(tmp_path):
    model = _seq_model(keras_module("k2"))
    randomize(model)
    path = tmp_path / "keras1_seq.h5"
    _write_keras1_h5(path, _seq_config(), _seq_weights(model))
    x = np.random.default_rng(1).integers(0, 10, (4, 7)).astype(np.int32)
    err = max_error([kerasport.load(path).predict(x)], [model.predict(x, verbose=0)])
    assert err <= TOL


def test_keras1_json_with_weights(tmp_path):
    """A Keras 1 to_json() architecture with its save_weights .h5."""
    model = _seq_model(keras_module("k2"))
    randomize(model)
    doc = {**_seq_config(), "keras_version": "1.2.2"}
    (tmp_path / "model.json").write_text(json.dumps(doc))
    with h5py.File(tmp_path / "w.h5", "w") as f:
        weights = _seq_weights(model)
        f.attrs["layer_names"] = [n.encode() for n in weights]
        for layer, arrays in weights.items():
            lg = f.create_group(layer)
            lg.attrs["weight_names"] = [f"{layer}_{w}:0".encode() for w, _ in arrays]
            for w, arr in arrays:
                lg.create_dataset(f"{layer}_{w}:0", data=arr)
    x = np.random.default_rng(2).integers(0, 10, (3, 7)).astype(np.int32)
    m = kerasport.load(tmp_path / "model.json", weights=tmp_path / "w.h5")
    assert max_error([m.predict(x)], [model.predict(x, verbose=0)]) <= TOL
