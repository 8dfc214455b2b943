"""Keras 3's newer activations (celu, hard_tanh, log_sigmoid, sparse_plus, sparse_sigmoid,
squareplus, tanh_shrink, hard_shrink, soft_shrink, threshold) as Activation layers, activation=
arguments and RNN activations; keras.activations / keras.ops calls recorded as operations in
functional models (in .keras and in the legacy .h5, which drops their module); the message for
an unsupported operation; PReLU with shared free dimensions.

None of the newer activations exists in Keras 2 (tf_keras), so those cases are Keras 3 only;
PReLU runs in all four formats. Tolerance: keras_models.TOL (1e-5 of the output scale)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from keras_models import (
    FORMAT_IDS,
    FORMATS,
    check_onnx,
    check_parity,
    keras_module,
    keras_outputs,
    max_error,
    randomize,
    save,
)
from test_layers import single

import kerasport
from kerasport.keras.activation_table import NEWER_ACTIVATIONS, supported_activations

K3 = [("k3", "keras"), ("k3", "h5")]
K3_IDS = ["k3-keras", "k3-h5"]
NEWER = sorted(NEWER_ACTIVATIONS)


def spread(make, shape=(5, 7)):
    """Input -> x * 2.5 (values well past every threshold and knee) -> make(k)."""

    def build(k):
        inp = k.Input(shape)
        return k.Model(inp, make(k)(k.layers.Rescaling(2.5)(inp)))

    return build


def test_newer_activations_are_documented():
    assert set(NEWER) <= set(supported_activations())
    assert "threshold" not in NEWER  # no defaults: only ops.Threshold


# ---- as Activation layers and activation= arguments ----------------------------------------

LAYER_CASES = {}
for _a in NEWER:
    LAYER_CASES[f"Activation-{_a}"] = spread(lambda k, a=_a: k.layers.Activation(a))
    LAYER_CASES[f"Dense-{_a}"] = spread(lambda k, a=_a: k.layers.Dense(4, activation=a),
                                        shape=(6,))
# glu halves the last axis (a * sigmoid(b)): a layer, never a recurrent activation
LAYER_CASES["Activation-glu"] = spread(lambda k: k.layers.Activation("glu"), shape=(5, 8))
LAYER_CASES["Dense-glu"] = spread(lambda k: k.layers.Dense(6, activation="glu"), shape=(6,))
for _a in ("celu", "soft_shrink", "squareplus"):
    LAYER_CASES[f"Conv1D-{_a}"] = spread(lambda k, a=_a: k.layers.Conv1D(
        3, 2, padding="same", activation=a), shape=(6, 4))
    LAYER_CASES[f"Conv2D-{_a}"] = spread(lambda k, a=_a: k.layers.Conv2D(
        3, 3, activation=a), shape=(5, 5, 2))


@pytest.mark.parametrize("flavour,ext", K3, ids=K3_IDS)
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_activation_parity(case, flavour, ext, tmp_path):
    check_parity(LAYER_CASES[case], flavour, ext, tmp_path)


# ---- inside recurrent layers (runtime kernels; ONNX as a Scan) ------------------------------

RNN_CASES = {}
for _i, _a in enumerate(NEWER):
    _cls = ("SimpleRNN", "LSTM", "GRU")[_i % 3]
    if _cls == "SimpleRNN":
        RNN_CASES[f"{_cls}-{_a}"] = single((6, 3), lambda k, a=_a: k.layers.SimpleRNN(
            4, activation=a, return_sequences=True))
    else:  # the newer activation as the activation, and hard_tanh / sparse_sigmoid as gates
        _gate = "sparse_sigmoid" if _i % 2 else "hard_tanh"
        RNN_CASES[f"{_cls}-{_a}"] = single((6, 3), lambda k, a=_a, c=_cls, g=_gate: getattr(
            k.layers, c)(4, activation=a, recurrent_activation=g, return_sequences=True))
RNN_CASES["ConvLSTM1D-celu"] = single((4, 5, 2), lambda k: k.layers.ConvLSTM1D(
    3, 2, activation="celu", recurrent_activation="sparse_sigmoid"))


@pytest.mark.parametrize("flavour,ext", K3, ids=K3_IDS)
@pytest.mark.parametrize("case", sorted(RNN_CASES))
def test_recurrent_activation_parity(case, flavour, ext, tmp_path):
    check_parity(RNN_CASES[case], flavour, ext, tmp_path)


# ---- keras.activations.X(t) / keras.ops.X(t) recorded as operations ------------------------


def _mish(k, x):
    from keras.src.activations.activations import Mish  # what keras.activations.mish uses

    return Mish()(x)


OP_CASES = {
    "Celu": lambda k, x: k.activations.celu(x),
    "Celu-alpha": lambda k, x: k.ops.celu(x, alpha=0.6),
    "Elu": lambda k, x: k.activations.elu(x),
    "Elu-alpha": lambda k, x: k.ops.elu(x, alpha=0.4),
    "Exp": lambda k, x: k.activations.exponential(x * 0.5),
    "Gelu": lambda k, x: k.activations.gelu(x),  # approximate=False
    "Gelu-ops": lambda k, x: k.ops.gelu(x),  # approximate=True
    "HardShrink": lambda k, x: k.activations.hard_shrink(x),
    "HardShrink-1.2": lambda k, x: k.ops.hard_shrink(x, threshold=1.2),
    "HardSigmoid": lambda k, x: k.activations.hard_sigmoid(x),
    "HardSilu": lambda k, x: k.ops.hard_silu(x),
    "HardTanh": lambda k, x: k.activations.hard_tanh(x),
    "LeakyRelu": lambda k, x: k.activations.leaky_relu(x),
    "LeakyRelu-0.05": lambda k, x: k.ops.leaky_relu(x, negative_slope=0.05),
    "LogSigmoid": lambda k, x: k.activations.log_sigmoid(x),
    "LogSoftmax": lambda k, x: k.activations.log_softmax(x),
    "LogSoftmax-axis1": lambda k, x: k.ops.log_softmax(x, axis=1),
    "Mish": _mish,
    "Relu": lambda k, x: k.ops.relu(x),
    "ReLU": lambda k, x: k.activations.relu(x),
    "ReLU-all": lambda k, x: k.activations.relu(x, negative_slope=0.1, max_value=2.0,
                                                threshold=0.3),
    "Relu6": lambda k, x: k.activations.relu6(x),
    "Selu": lambda k, x: k.activations.selu(x),
    "Sigmoid": lambda k, x: k.activations.sigmoid(x),
    "Silu": lambda k, x: k.activations.silu(x),
    "Softmax": lambda k, x: k.activations.softmax(x),
    "Softmax-axis1": lambda k, x: k.ops.softmax(x, axis=1),
    "SoftShrink": lambda k, x: k.activations.soft_shrink(x),
    "SoftShrink-0.2": lambda k, x: k.ops.soft_shrink(x, threshold=0.2),
    "Softplus": lambda k, x: k.activations.softplus(x),
    "Softsign": lambda k, x: k.activations.softsign(x),
    "SparsePlus": lambda k, x: k.activations.sparse_plus(x),
    "SparseSigmoid": lambda k, x: k.activations.sparse_sigmoid(x),
    "Squareplus": lambda k, x: k.activations.squareplus(x),
    "Squareplus-b1": lambda k, x: k.ops.squareplus(x, b=1),
    "Tanh": lambda k, x: k.activations.tanh(x),
    "TanhShrink": lambda k, x: k.activations.tanh_shrink(x),
    "Threshold": lambda k, x: k.activations.threshold(x, 0.3, -2.0),
    "Threshold-ops": lambda k, x: k.ops.threshold(x, threshold=-0.5, default_value=0.25),
}


def op_model(call):
    """Input -> Dense -> the recorded operation -> Dense (so the op is inside the graph)."""

    def build(k):
        inp = k.Input((4, 6))
        x = k.layers.Dense(6)(inp) * 2.0
        y = call(k, x)
        return k.Model(inp, k.layers.Dense(3)(y))

    return build


@pytest.mark.parametrize("flavour,ext", K3, ids=K3_IDS)
@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_recorded_operation_parity(case, flavour, ext, tmp_path):
    check_parity(op_model(OP_CASES[case]), flavour, ext, tmp_path)


def all_ops(k):
    """Every operation in one model, next to the layers that share their class names."""
    inp = k.Input((4, 6))
    x = k.layers.Dense(6)(inp)
    outs = [k.layers.Softmax(axis=1)(x), k.layers.ReLU(max_value=1.5)(x),
            k.layers.LeakyReLU(0.3)(x), k.layers.ELU(0.7)(x)]
    outs += [call(k, x) for call in OP_CASES.values()]
    return k.Model(inp, k.layers.Concatenate()(outs))


def test_h5_operations_read_like_keras_twins(tmp_path):
    """Keras 3's .h5 writer drops the operations' module: they must read exactly as in the
    .keras file (a Softmax operation and a Softmax layer share a class name)."""
    k = keras_module("k3")
    model = all_ops(k)
    randomize(model)
    x = np.random.default_rng(3).standard_normal((3, 4, 6)).astype(np.float32)
    want = keras_outputs(model, [x])
    got = {}
    for ext in ("keras", "h5"):
        m = kerasport.load(save(model, tmp_path / f"m.{ext}"))
        got[ext] = m.predict(x)
        assert max_error([got[ext]], want) <= 1e-5
        ops = sorted(n.op for n in m.graph.nodes)
        got[ext + "-ops"] = ops
    assert got["keras-ops"] == got["h5-ops"]
    np.testing.assert_array_equal(got["keras"], got["h5"])


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_onnx_opsets(opset, tmp_path):
    """The ONNX compositions run in ONNX Runtime at the oldest and newest opsets."""
    k = keras_module("k3")
    model = all_ops(k)
    randomize(model)
    m = kerasport.load(save(model, tmp_path / "m.keras"))
    x = np.random.default_rng(4).standard_normal((2, 4, 6)).astype(np.float32)
    check_onnx(m, [x], [m.predict(x)], opset=opset)


# ---- unsupported operations are named as operations ---------------------------------------


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_unsupported_operation_message(ext, tmp_path):
    k = keras_module("k3")
    inp = k.Input((4, 6))
    y = k.layers.Dense(2)(k.ops.erf(k.layers.Dense(6)(inp)))
    path = save(k.Model(inp, y), tmp_path / f"m.{ext}")
    with pytest.raises(kerasport.UnsupportedLayerError) as info:
        kerasport.load(path)
    (issue,) = info.value.issues
    assert issue.kind == "operation" and issue.class_name == "Erf"
    text = str(info.value)
    assert text.startswith("1 operation cannot be converted:"), text
    assert re.search(r"operation 'erf\w*' \(ops\.Erf\): this keras\.ops operation is not "
                     "supported yet", text), text
    assert "register_converter('ops.Erf')" in text
    assert "layer" not in text.splitlines()[1]


def test_unsupported_operation_option_is_an_operation_issue(tmp_path):
    k = keras_module("k3")
    inp = k.Input((4, 6))
    y = k.ops.softmax(inp, axis=None)
    path = save(k.Model(inp, y), tmp_path / "m.keras")
    with pytest.raises(kerasport.UnsupportedLayerError) as info:
        kerasport.load(path)
    (issue,) = info.value.issues
    assert issue.kind == "operation" and issue.key == "axis"
    assert str(info.value).startswith("1 operation cannot be converted")
    assert re.search(r"operation 'softmax\w*' \(ops\.Softmax\): config key 'axis'",
                     str(info.value))


def test_layers_and_operations_are_counted_apart():
    from kerasport.errors import LayerIssue

    err = kerasport.UnsupportedLayerError([
        LayerIssue("a", "Foo", "x"), LayerIssue("b", "Bar", "y"),
        LayerIssue("c", "Erf", "z", kind="operation")])
    assert str(err).startswith("2 layers and 1 operation cannot be converted:")
    assert "  - 'a' (Foo): x" in str(err) and "  - operation 'c' (ops.Erf): z" in str(err)


# ---- PReLU with free (shared) dimensions ---------------------------------------------------

PRELU_CASES = {
    "2d-free-hw": single((None, None, 3), lambda k: k.layers.PReLU(shared_axes=[1, 2])),
    "2d-free-h": single((None, 4, 3), lambda k: k.layers.PReLU(shared_axes=[1])),
    "1d-free-length": single((None, 5), lambda k: k.layers.PReLU(shared_axes=[1])),
    "conv-free": single((None, None, 2), lambda k: k.models.Sequential([
        k.layers.Conv2D(4, 3, padding="same"), k.layers.PReLU(shared_axes=[1, 2])])),
}


@pytest.mark.parametrize("flavour,ext", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(PRELU_CASES))
def test_prelu_free_dims_parity(case, flavour, ext, tmp_path):
    check_parity(PRELU_CASES[case], flavour, ext, tmp_path)


def test_prelu_free_dims_any_size(tmp_path):
    """One converted model runs on any height and width."""
    k = keras_module("k3")
    model = PRELU_CASES["2d-free-hw"](k)
    randomize(model)
    m = kerasport.load(save(model, tmp_path / "m.keras"))
    for h, w in ((2, 9), (7, 3)):
        x = np.random.default_rng(h).standard_normal((2, h, w, 3)).astype(np.float32)
        assert max_error([m.predict(x)], keras_outputs(model, [x])) <= 1e-6
