"""The Keras 3 target without Keras: weight paths, name fixes, IR -> .keras -> kerasport's
own reader (the written archive must compute what the IR computed, exactly)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import kerasport
from kerasport.errors import UnsupportedLayerError
from kerasport.export.keras.archive import write_archive
from kerasport.export.keras.from_ir import from_ir
from kerasport.export.keras.graph import KLayer, KModel
from kerasport.export.keras.helpers import EMITTERS, emitter
from kerasport.export.keras.layout import LayoutError, weight_paths
from kerasport.export.keras.names import legal_names
from kerasport.ir.builder import Builder
from kerasport.keras.config import CallNode, TensorRef

LSTM = {"class_name": "LSTM", "config": {"units": 3}}


@pytest.mark.parametrize(("class_name", "config", "n", "paths"), [
    ("Dense", {}, 2, ["vars/0", "vars/1"]),
    ("GRU", {}, 3, ["cell/vars/0", "cell/vars/1", "cell/vars/2"]),
    ("Bidirectional", {"layer": LSTM}, 4,
     ["forward_layer/cell/vars/0", "forward_layer/cell/vars/1",
      "backward_layer/cell/vars/0", "backward_layer/cell/vars/1"]),
    ("TimeDistributed", {"layer": {"class_name": "Dense", "config": {}}}, 2,
     ["layer/vars/0", "layer/vars/1"]),
    ("MultiHeadAttention", {"use_bias": False}, 4,
     ["query_dense/vars/0", "key_dense/vars/0", "value_dense/vars/0", "output_dense/vars/0"]),
    ("RNN", {"cell": {"class_name": "StackedRNNCells", "config": {"cells": [
        {"class_name": "LSTMCell", "config": {}},
        {"class_name": "LSTMCell", "config": {"use_bias": False}}]}}}, 5,
     ["cell/cells/lstm_cell/vars/0", "cell/cells/lstm_cell/vars/1",
      "cell/cells/lstm_cell/vars/2", "cell/cells/lstm_cell_1/vars/0",
      "cell/cells/lstm_cell_1/vars/1"]),
])
def test_weight_paths(class_name, config, n, paths):
    assert weight_paths(class_name, config, n) == paths


def test_weight_paths_refuse_what_does_not_fit():
    with pytest.raises(LayoutError, match="MultiHeadAttention holds 3 weights"):
        weight_paths("MultiHeadAttention", {}, 3)


def test_names_with_slash_are_renamed_with_their_references():
    a = KLayer("in", "InputLayer", {"name": "in"})
    b = KLayer("Conv/BN", "Dense", {"name": "Conv/BN"}, [CallNode([TensorRef("in", 0, 0)], {})])
    c = KLayer("Conv_BN", "Dense", {"name": "Conv_BN"},
               [CallNode([TensorRef("Conv/BN", 0, 0)], {})])
    model = KModel("m", "Functional", [a, b, c], TensorRef("in", 0, 0),
                   [TensorRef("Conv/BN", 0, 0), TensorRef("Conv_BN", 0, 0)])
    assert legal_names(model) == {"Conv/BN": "Conv_BN_1"}
    assert b.name == b.config["name"] == "Conv_BN_1"
    assert c.inbound[0].args == [TensorRef("Conv_BN_1", 0, 0)]
    assert model.outputs[0] == TensorRef("Conv_BN_1", 0, 0)


def _graph():
    rng = np.random.default_rng(0)
    b = Builder()
    x = b.input("image", (None, 6, 6, 2), "float32")
    k = b.const("c/kernel", rng.standard_normal((3, 3, 2, 4)))
    h = b.op("Conv", [x, k, b.const("c/bias", rng.standard_normal(4))], "c",
             {"strides": [1, 1], "dilations": [1, 1], "padding": "same", "groups": 1}, "c")
    scale, shift = b.const("s", rng.uniform(0.5, 2, 4)), b.const("t", rng.standard_normal(4))
    h = b.op("Affine", [h, scale, shift], "bn", {}, "bn")
    h = b.op("Relu", [h], "r", {"max_value": 6.0}, "r")
    h = b.op("Pool", [h], "p", {"mode": "avg", "pool_size": [2, 2], "strides": [2, 2],
                                "padding": "valid"}, "p")
    h = b.op("Mul", [h, b.const("half", np.float32(0.5))], "half", {}, "half")
    h = b.op("Flatten", [h], "f", {}, "f")
    y = b.op("Dense", [h, b.const("d/kernel", rng.standard_normal((36, 3))),
                       b.const("d/bias", rng.standard_normal(3))], "d", {}, "d")
    y = b.op("Softmax", [y], "probs", {"axis": -1}, "probs")
    return b.finish([x], [y], "single", "single", "tiny", ["probs"])


def test_ir_graph_written_as_keras_reads_back_the_same(tmp_path):
    graph = _graph()
    path = tmp_path / "tiny.keras"
    write_archive(from_ir(graph), str(path))
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    classes = [layer["class_name"] for layer in config["config"]["layers"]]
    assert classes == ["InputLayer", "Conv2D", "BatchNormalization", "ReLU", "AveragePooling2D",
                       "Multiply", "Flatten", "Dense", "Softmax"]
    x = np.random.default_rng(1).standard_normal((2, 6, 6, 2)).astype(np.float32)
    want = kerasport.Model(graph).predict(x)
    got = kerasport.load(path, optimize_graph=False).predict(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_unmappable_ir_op_is_refused_by_op_and_layer():
    b = Builder()
    x = b.input("x", (None, 4), "float32")
    y = b.op("Cast", [x], "as_int", {"dtype": "int32"}, "caster")
    graph = b.finish([x], [y], "single", "single", "m", ["as_int"])
    with pytest.raises(UnsupportedLayerError) as info:
        from_ir(graph)
    (issue,) = info.value.issues
    assert issue.layer == "caster" and issue.class_name == "IR op Cast"


def test_emitters_are_registered_once():
    from_ir(_graph())  # loads every family module
    with pytest.raises(ValueError, match="already registered"):
        emitter("Conv")(EMITTERS["Conv"])


def test_sequence_ops_written_as_keras_read_back_the_same(tmp_path):
    rng = np.random.default_rng(2)
    b = Builder()
    ids = b.input("ids", (None, 5), "int32")
    h = b.op("Gather", [b.const("emb", rng.standard_normal((9, 4))), ids], "emb", {}, "emb")
    h = b.op("Pad", [h], "pad", {"pads": [[0, 0], [1, 2], [0, 0]]}, "pad")
    h = b.op("LayerNorm", [h, b.const("g", rng.uniform(0.5, 2, 4)),
                           b.const("be", rng.standard_normal(4))], "ln",
             {"axes": [-1], "epsilon": 1e-3}, "ln")
    h = b.op("Crop", [h], "crop", {"crops": [[0, 0], [1, 1], [0, 0]]}, "crop")
    y = b.op("Mean", [h, b.op("Relu", [h], "relu", {}, "relu")], "avg", {}, "avg")
    graph = b.finish([ids], [y], "single", "single", "seq", ["avg"])
    path = tmp_path / "seq.keras"
    write_archive(from_ir(graph), str(path))
    classes = [x["class_name"] for x in
               json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]]
    assert classes == ["InputLayer", "Embedding", "ZeroPadding1D", "LayerNormalization",
                       "Cropping1D", "ReLU", "Average"]
    x = rng.integers(0, 9, (3, 5)).astype(np.int32)
    want = kerasport.Model(graph).predict(x)
    np.testing.assert_allclose(kerasport.load(path, optimize_graph=False).predict(x), want,
                               rtol=1e-6, atol=1e-6)
