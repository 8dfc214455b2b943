"""Files as standalone Keras 2.0-2.2 wrote them (no Keras that old installs on this Python):
fixtures hand-built from those versions' saving code, with weights from an equivalent tf_keras
model, compared with that model's outputs.

Keras 2.0-2.2.2 ``save_model``: ``model_config`` is ``{"class_name": "Sequential", "config":
[<layer>, ...]}`` (a bare list; the dict with "layers" came in 2.2.3), the first layer holding
``batch_input_shape`` and no InputLayer entry; functional models are ``"class_name": "Model"``
with ``[[[name, node, index, {}]]]`` inbound nodes; weights in ``model_weights/<layer>`` with
``weight_names`` such as ``conv2d_1/kernel:0``; ``keras_version`` and ``backend`` are bytes.
Layer configs lack keys later versions added (Conv2D ``groups``, Flatten ``data_format``,
dtype policies).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from keras_models import TOL, keras_module, randomize

import kerasport

INIT = {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                     "distribution": "uniform", "seed": None}}
ZEROS = {"class_name": "Zeros", "config": {}}
ONES = {"class_name": "Ones", "config": {}}


def _conv(name, filters, first=False):
    cfg = {"name": name, "trainable": True, "filters": filters, "kernel_size": [3, 3],
           "strides": [1, 1], "padding": "same", "data_format": "channels_last",
           "dilation_rate": [1, 1], "activation": "relu", "use_bias": True,
           "kernel_initializer": INIT, "bias_initializer": ZEROS, "kernel_regularizer": None,
           "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
           "bias_constraint": None}
    if first:
        cfg.update(batch_input_shape=[None, 8, 8, 1], dtype="float32")
    return {"class_name": "Conv2D", "config": cfg}


def _bn(name):
    return {"class_name": "BatchNormalization", "config": {
        "name": name, "trainable": True, "axis": -1, "momentum": 0.99, "epsilon": 0.001,
        "center": True, "scale": True, "beta_initializer": ZEROS, "gamma_initializer": ONES,
        "moving_mean_initializer": ZEROS, "moving_variance_initializer": ONES,
        "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
        "gamma_constraint": None}}


def _dense(name, units, activation):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "units": units, "activation": activation,
        "use_bias": True, "kernel_initializer": INIT, "bias_initializer": ZEROS,
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None}}


def _sequential_config():
    return [_conv("conv2d_1", 4, first=True), _bn("batch_normalization_1"),
            {"class_name": "MaxPooling2D", "config": {
                "name": "max_pooling2d_1", "trainable": True, "pool_size": [2, 2],
                "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}},
            {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True,
                                                 "rate": 0.25, "noise_shape": None,
                                                 "seed": None}},
            {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
            _dense("dense_1", 6, "softmax")]


def _reference_model(k):
    L = k.layers
    model = k.Sequential([k.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same", activation="relu"),
                          L.BatchNormalization(), L.MaxPooling2D(), L.Dropout(0.25),
                          L.Flatten(), L.Dense(6, activation="softmax")])
    randomize(model)
    return model


WEIGHT_NAMES = {"conv2d_1": ["kernel", "bias"],
                "batch_normalization_1": ["gamma", "beta", "moving_mean", "moving_variance"],
                "dense_1": ["kernel", "bias"]}


def _write_old_h5(path, config, weights, version=b"2.1.6"):
    """An .h5 file laid out as Keras 2.1's save_model writes it."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = version
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        g = f.create_group("model_weights")
        names = [n for n in weights]
        g.attrs["layer_names"] = [n.encode() for n in names]
        for layer, arrays in weights.items():
            lg = g.create_group(layer)
            wnames = [f"{layer}/{w}:0".encode() for w in WEIGHT_NAMES.get(layer, [])]
            lg.attrs["weight_names"] = wnames
            for wname, arr in zip(wnames, arrays):
                lg.create_dataset(wname.decode(), data=arr)


def _weights_of(model) -> dict[str, list[np.ndarray]]:
    out = {}
    order = ["conv2d_1", "batch_normalization_1", "max_pooling2d_1", "dropout_1",
             "flatten_1", "dense_1"]
    for name, layer in zip(order, model.layers):
        out[name] = [np.asarray(w) for w in layer.get_weights()]
    return out


@pytest.mark.parametrize("version", [b"2.0.8", b"2.1.6", b"2.2.0"])
def test_keras_2_0_to_2_2_sequential(tmp_path, version):
    model = _reference_model(keras_module("k2"))
    path = tmp_path / "old.h5"
    _write_old_h5(path, {"class_name": "Sequential", "config": _sequential_config()},
                  _weights_of(model), version)
    x = np.random.default_rng(0).standard_normal((5, 8, 8, 1)).astype(np.float32)
    got = kerasport.load(path).predict(x)
    want = model.predict(x, verbose=0)
    assert np.max(np.abs(got - want)) <= TOL


def test_keras_2_1_functional_model(tmp_path):
    model = _reference_model(keras_module("k2"))
    layers = [{"name": "input_1", "class_name": "InputLayer",
               "config": {"batch_input_shape": [None, 8, 8, 1], "dtype": "float32",
                          "sparse": False, "name": "input_1"}, "inbound_nodes": []}]
    prev = "input_1"
    for entry in _sequential_config():
        cfg = dict(entry["config"])
        cfg.pop("batch_input_shape", None)
        cfg.pop("dtype", None)
        layers.append({"name": cfg["name"], "class_name": entry["class_name"], "config": cfg,
                       "inbound_nodes": [[[prev, 0, 0, {}]]]})
        prev = cfg["name"]
    config = {"class_name": "Model", "config": {
        "name": "model_1", "layers": layers, "input_layers": [["input_1", 0, 0]],
        "output_layers": [[prev, 0, 0]]}}
    path = tmp_path / "old_functional.h5"
    _write_old_h5(path, config, _weights_of(model))
    x = np.random.default_rng(1).standard_normal((4, 8, 8, 1)).astype(np.float32)
    got = kerasport.load(path).predict(x)
    assert np.max(np.abs(got - model.predict(x, verbose=0))) <= TOL


def test_keras_2_1_nested_sequential_in_model(tmp_path):
    """A Keras 2.1 Sequential used as a layer of a functional model: its config is a list."""
    k = keras_module("k2")
    inner = _reference_model(k)
    inp = k.Input((8, 8, 1))
    outer = k.Model(inp, inner(inp))
    layers = [{"name": "input_2", "class_name": "InputLayer",
               "config": {"batch_input_shape": [None, 8, 8, 1], "dtype": "float32",
                          "sparse": False, "name": "input_2"}, "inbound_nodes": []},
              {"name": "sequential_1", "class_name": "Sequential",
               "config": _sequential_config(), "inbound_nodes": [[["input_2", 0, 0, {}]]]}]
    config = {"class_name": "Model", "config": {
        "name": "model_2", "layers": layers, "input_layers": [["input_2", 0, 0]],
        "output_layers": [["sequential_1", 1, 0]]}}
    path = tmp_path / "nested.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.1.6"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"input_2", b"sequential_1"]
        g.create_group("input_2").attrs["weight_names"] = []
        sg = g.create_group("sequential_1")
        names = []
        for layer, arrays in _weights_of(inner).items():
            for w, arr in zip(WEIGHT_NAMES.get(layer, []), arrays):
                name = f"{layer}/{w}:0"
                names.append(name.encode())
                sg.create_dataset(name, data=arr)
        sg.attrs["weight_names"] = names
    x = np.random.default_rng(2).standard_normal((3, 8, 8, 1)).astype(np.float32)
    got = kerasport.load(path).predict(x)
    assert np.max(np.abs(got - outer.predict(x, verbose=0))) <= TOL
