"""ONNX export of sequence models, beyond what the parity tests check (they run every model of
test_recurrent.py in ONNX Runtime): opsets, dynamic batch and free sequence length, node and
Transpose counts (recurrent ops stay time-major, Bidirectional is one op, go_backwards costs
no reversal), masks of every shape (not only right-padding), initial states under masks,
activations ONNX's recurrent ops lack (a Scan), and bad input. Tolerance:
keras_models.ONNX_TOL (1e-5 of the output scale)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from keras_models import ONNX_TOL, check_onnx, keras_module, max_error, random_inputs, randomize
from keras_models import save as save_model

import kerasport
from kerasport.errors import KerasportError
from kerasport.export.onnx import supported_ops, to_onnx
from kerasport.model import as_list

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SEQUENCE_OPS = {"SimpleRNN", "LSTM", "GRU", "Gather", "Reverse", "FoldTime", "UnfoldTime",
                "Repeat", "MaskNotEqual", "ApplyMask", "MaskedMean", "MaskReduce",
                "MaskLogical"}


def load(build, tmp_path, flavour: str = "k3", name: str = "model"):
    """Build with Keras, randomise, save as .keras and load with kerasport."""
    model = build(keras_module(flavour))
    randomize(model)
    return model, kerasport.load(save_model(model, tmp_path / f"{name}.keras"))


def run(proto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), inputs)})


def ops(proto) -> Counter:
    return Counter(n.op_type for n in proto.graph.node)


def expect(m, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return as_list(m.predict(inputs if len(inputs) > 1 else inputs[0]))


# -- models ---------------------------------------------------------------------------------
def text_classifier(k):
    """Embedding(mask_zero) -> Bidirectional LSTM -> GRU(go_backwards) -> Dense."""
    inp = k.Input((None,), dtype="int32")
    x = k.layers.Embedding(20, 6, mask_zero=True)(inp)
    x = k.layers.Bidirectional(k.layers.LSTM(5, return_sequences=True))(x)
    x = k.layers.GRU(4, go_backwards=True, reset_after=False)(x)
    return k.Model(inp, k.layers.Dense(3, activation="softmax")(x))


def everything(k):
    """Every recurrent op and sequence helper, masked and not."""
    tokens = k.Input((9,), dtype="int32")
    feats = k.Input((9, 2))
    x = k.layers.Embedding(12, 4, mask_zero=True)(tokens)
    x = k.layers.Bidirectional(k.layers.GRU(5, return_sequences=True), merge_mode="sum")(x)
    x = k.layers.SimpleRNN(4, return_sequences=True, go_backwards=True)(x)
    pooled = k.layers.GlobalAveragePooling1D()(x)
    y = k.layers.Masking(0.0)(k.layers.ReLU()(feats))
    y = k.layers.LSTM(6, return_sequences=True, recurrent_activation="hard_sigmoid")(y)
    y = k.layers.TimeDistributed(k.layers.Dense(3))(y)
    z = k.layers.RepeatVector(3)(pooled)
    z = k.layers.LSTM(2)(z)
    return k.Model([tokens, feats], [pooled, y, z])


def stacked(k):
    inp = k.Input((10, 3))
    x = k.layers.LSTM(6, return_sequences=True)(inp)
    x = k.layers.GRU(6, return_sequences=True)(x)
    x = k.layers.SimpleRNN(6, return_sequences=True)(x)
    return k.Model(inp, k.layers.LSTM(4)(x))


def sentiment(k):
    inp = k.Input((12,), dtype="int32")
    x = k.layers.Embedding(30, 8)(inp)
    x = k.layers.LSTM(6)(x)
    return k.Model(inp, k.layers.Dense(2)(x))


def bidirectional_stack(k):
    inp = k.Input((8, 3))
    x = k.layers.Bidirectional(k.layers.GRU(4, return_sequences=True))(inp)
    x = k.layers.Bidirectional(k.layers.LSTM(4, return_sequences=True), merge_mode="ave")(x)
    return k.Model(inp, k.layers.Bidirectional(k.layers.SimpleRNN(3))(x))


def conv_then_gru(k):
    inp = k.Input((20, 3))
    x = k.layers.Conv1D(6, 3, activation="relu")(inp)
    return k.Model(inp, k.layers.GRU(4)(x))


def explicit_masks(k):
    """Masks written with keras.ops (Keras 3): MaskNotEqual, MaskReduce any/all, MaskLogical
    and/not."""
    x = k.Input((7, 2))
    keep = k.ops.any(k.ops.not_equal(x, 0.0), axis=-1)
    also = k.ops.logical_not(k.ops.all(k.ops.equal(x, 0.0), axis=-1))
    return k.Model(x, k.layers.LSTM(3, return_sequences=True)(
        x, mask=k.ops.logical_and(keep, also)))


def masked_with_state(cls: str, sequences: bool):
    def build(k):
        tokens = k.Input((8,), dtype="int32")
        states = [k.Input((4,)) for _ in range(2 if cls == "LSTM" else 1)]
        x = k.layers.Embedding(10, 3, mask_zero=True)(tokens)
        outs = getattr(k.layers, cls)(4, return_sequences=sequences, return_state=True)(
            x, initial_state=states)
        return k.Model([tokens, *states], list(outs))
    return build


def bidirectional_with_states(cls: str):
    """Masked Bidirectional with initial states for both halves, returning its states."""
    def build(k):
        tokens = k.Input((8,), dtype="int32")
        states = [k.Input((4,)) for _ in range(4 if cls == "LSTM" else 2)]
        x = k.layers.Embedding(10, 3, mask_zero=True)(tokens)
        outs = k.layers.Bidirectional(getattr(k.layers, cls)(
            4, return_sequences=True, return_state=True))(x, initial_state=states)
        return k.Model([tokens, *states], list(outs))
    return build


def masked_bidirectional_k2(k):
    """tf_keras zeroes the outputs of masked steps in a Bidirectional's sequences."""
    inp = k.Input((8,), dtype="int32")
    x = k.layers.Embedding(10, 3, mask_zero=True)(inp)
    x = k.layers.Bidirectional(k.layers.GRU(4, return_sequences=True))(x)
    return k.Model(inp, x)


# token rows: full, right-padded, left-padded, holes in the middle, all masked
TOKENS = np.array([[1, 2, 3, 4, 5, 6, 7, 8],
                   [3, 1, 4, 1, 5, 0, 0, 0],
                   [0, 0, 0, 2, 7, 1, 8, 2],
                   [5, 0, 3, 0, 0, 9, 0, 6],
                   [0, 0, 0, 0, 0, 0, 0, 0]], np.int32)


# -- tests ----------------------------------------------------------------------------------
def test_every_sequence_op_has_an_emitter():
    assert SEQUENCE_OPS <= set(supported_ops())


@pytest.mark.parametrize("opset", [13, 17, 18, onnx.defs.onnx_opset_version()])
def test_opsets(opset, tmp_path):
    model, m = load(everything, tmp_path)
    assert SEQUENCE_OPS - {n.op for n in m.graph.nodes} <= {"Reverse", "MaskReduce",
                                                           "MaskLogical"}
    inputs = random_inputs(model, batch=4, int_high=4)
    assert check_onnx(m, inputs, expect(m, inputs), opset=opset) <= ONNX_TOL


def test_keras_ops_masks(tmp_path):
    model, m = load(explicit_masks, tmp_path)
    assert {"MaskNotEqual", "MaskReduce", "MaskLogical"} <= {n.op for n in m.graph.nodes}
    x = np.random.default_rng(0).normal(size=(4, 7, 2)).astype(np.float32)
    x[0, 2:5] = 0.0
    x[1, :] = 0.0
    x[2, -1] = 0.0
    assert check_onnx(m, [x], expect(m, [x])) <= ONNX_TOL


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("length", [1, 4, 23])
def test_dynamic_batch_and_free_length(batch, length, tmp_path):
    _, m = load(text_classifier, tmp_path)
    proto = to_onnx(m)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", f"{m.input_names[0]}_d1"]
    x = np.random.default_rng(length).integers(0, 4, (batch, length)).astype(np.int32)
    assert max_error(run(proto, [x]), expect(m, [x])) <= ONNX_TOL


def test_fixed_batch_size(tmp_path):
    _, m = load(sentiment, tmp_path)
    proto = to_onnx(m, batch_size=3)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3
    x = np.random.default_rng(0).integers(0, 30, (3, 12)).astype(np.int32)
    assert max_error(run(proto, [x]), expect(m, [x])) <= ONNX_TOL


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last"])
def test_every_mask_shape_with_initial_states(cls, sequences, tmp_path):
    """Right- and left-padding, holes, an all-masked row (Keras keeps the initial state)."""
    _, m = load(masked_with_state(cls, sequences), tmp_path)
    rng = np.random.default_rng(1)
    states = [rng.normal(size=(len(TOKENS), 4)).astype(np.float32) for _ in m.input_names[1:]]
    inputs = [TOKENS, *states]
    assert check_onnx(m, inputs, expect(m, inputs)) <= ONNX_TOL


@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_bidirectional_states_under_masks(cls, flavour, tmp_path):
    _, m = load(bidirectional_with_states(cls), tmp_path, flavour)
    rng = np.random.default_rng(2)
    states = [rng.normal(size=(len(TOKENS), 4)).astype(np.float32) for _ in m.input_names[1:]]
    inputs = [TOKENS, *states]
    assert ops(to_onnx(m))[cls] == 1
    assert check_onnx(m, inputs, expect(m, inputs)) <= ONNX_TOL


def test_zero_output_for_mask_keras2(tmp_path):
    _, m = load(masked_bidirectional_k2, tmp_path, flavour="k2")
    assert any(n.attrs.get("zero_output_for_mask") for n in m.graph.nodes)
    assert check_onnx(m, [TOKENS], expect(m, [TOKENS])) <= ONNX_TOL


def test_embedding_lstm_transposes_only_the_token_ids(tmp_path):
    _, m = load(sentiment, tmp_path)
    proto = to_onnx(m)
    count = ops(proto)
    assert count["LSTM"] == 1 and count["Transpose"] == 1
    (transpose,) = [n for n in proto.graph.node if n.op_type == "Transpose"]
    assert transpose.input[0] == m.input_names[0]  # (N, T) int ids, not (N, T, E) floats
    assert sum(count.values()) <= 6


def test_stacked_recurrent_layers_stay_time_major(tmp_path):
    _, m = load(stacked, tmp_path)
    proto = to_onnx(m)
    count = ops(proto)
    assert count["Transpose"] == 1  # at the input; the states come out batch-major
    assert (count["LSTM"], count["GRU"], count["RNN"]) == (2, 1, 1)
    x = np.random.default_rng(0).normal(size=(3, 10, 3)).astype(np.float32)
    assert max_error(run(proto, [x]), expect(m, [x])) <= ONNX_TOL


def test_bidirectional_is_one_op_without_reversals(tmp_path):
    _, m = load(bidirectional_stack, tmp_path)
    proto = to_onnx(m)
    count = ops(proto)
    assert (count["GRU"], count["LSTM"], count["RNN"]) == (1, 1, 1)
    assert all(a.s == b"bidirectional" for n in proto.graph.node for a in n.attribute
               if a.name == "direction")
    assert count["Slice"] == 0  # Keras' reversed backward sequence is ONNX's natural order
    assert count["Transpose"] == 1
    x = np.random.default_rng(0).normal(size=(2, 8, 3)).astype(np.float32)
    assert max_error(run(proto, [x]), expect(m, [x])) <= ONNX_TOL


def test_arithmetic_between_recurrent_layers_stays_time_major(tmp_path):
    """Elementwise ops, scalars and per-feature constants between two recurrent layers."""
    def build(k):
        inp = k.Input((6, 3))
        x = k.layers.GRU(4, return_sequences=True)(inp)
        x = k.layers.BatchNormalization()(x * 2.0 + 0.5)
        return k.Model(inp, k.layers.LSTM(3)(k.layers.Activation("tanh")(x)))

    _, m = load(build, tmp_path)
    proto = to_onnx(m)
    assert ops(proto)["Transpose"] == 1
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    assert max_error(run(proto, [x]), expect(m, [x])) <= ONNX_TOL


def test_time_major_constants_are_laid_out():
    """A constant as wide as the sequence (T, F) is transposed with it; (F,) is not."""
    from kerasport.export.onnx.context import TM, ExportContext
    from kerasport.ir.graph import Graph, Value

    steps = np.arange(12, dtype=np.float32).reshape(3, 4)
    graph = Graph((), ("x",), ("x",), {"x": Value("x", (None, 3, 4)),
                                       "c": Value("c", (3, 4)), "b": Value("b", (4,))},
                  {"c": steps, "b": steps[0]})
    ctx = ExportContext(graph, 17)
    ctx.set("x", "x", TM)
    assert ctx.preferred(["x", "c"]) == TM and ctx.axis(1, 3, TM) == 0
    laid = ctx.initializers[ctx.operand("c", TM, 3)]
    np.testing.assert_array_equal(laid, steps[:, None, :])  # (T, 1, F) against (T, N, F)
    np.testing.assert_array_equal(ctx.initializers[ctx.operand("b", TM, 3)], steps[0])


def test_conv_to_recurrent_is_one_transpose(tmp_path):
    _, m = load(conv_then_gru, tmp_path)
    count = ops(to_onnx(m))
    assert count["Transpose"] == 2  # into channels-first for Conv, then straight to time-major


ACTIVATIONS = ["linear", "elu", "softplus", "softsign", "relu", "hard_sigmoid", "sigmoid"]


@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations(act, cls, flavour, tmp_path):
    """Every activation with an ONNX recurrent form, as activation and (LSTM, GRU) as
    recurrent_activation beside another one, so that ONNX's alpha/beta lists line up."""
    def build(k):
        inp = k.Input((6, 3))
        kw = {"activation": act}
        if cls != "SimpleRNN":
            kw = {"activation": "hard_sigmoid" if act == "elu" else "elu",
                  "recurrent_activation": act}
        return k.Model(inp, getattr(k.layers, cls)(4, return_sequences=True, **kw)(inp))

    _, m = load(build, tmp_path, flavour)
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    assert check_onnx(m, [x], expect(m, [x])) <= ONNX_TOL


def scan_model(cls: str, act: str, masked: bool, backwards: bool):
    """A layer whose activation ONNX's recurrent ops lack, returning sequence and states."""
    def build(k):
        tokens = k.Input((8,), dtype="int32")
        states = [k.Input((4,)) for _ in range(2 if cls == "LSTM" else 1)]
        x = k.layers.Embedding(10, 3, mask_zero=masked)(tokens)
        kw = {"activation": act, "return_sequences": True, "return_state": True,
              "go_backwards": backwards}
        if cls != "SimpleRNN":  # bounded gates: selu/silu gates make LSTM states explode
            kw["recurrent_activation"] = "hard_sigmoid" if act == "gelu" else "sigmoid"
        if cls == "GRU-reset-before":
            kw["reset_after"] = False
        outs = getattr(k.layers, cls.split("-")[0])(4, **kw)(x, initial_state=states)
        return k.Model([tokens, *states], list(outs))
    return build


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU", "GRU-reset-before"])
@pytest.mark.parametrize("act", ["selu", "silu", "hard_silu", "gelu"])
@pytest.mark.parametrize(("masked", "backwards"), [(True, True), (False, False)],
                         ids=["masked-backwards", "plain"])
def test_activations_without_onnx_form_run_as_scan(cls, act, masked, backwards, tmp_path):
    _, m = load(scan_model(cls, act, masked, backwards), tmp_path)
    rng = np.random.default_rng(3)
    inputs = [TOKENS, *[rng.normal(size=(len(TOKENS), 4)).astype(np.float32)
                        for _ in m.input_names[1:]]]
    count = ops(to_onnx(m))
    assert count["Scan"] == 1 and not {"RNN", "LSTM", "GRU"} & set(count)
    for opset in (13, 17):  # hard_silu: HardSwish from 14, decomposed below
        assert check_onnx(m, inputs, expect(m, inputs), opset=opset) <= ONNX_TOL


def test_op_without_onnx_mapping_names_op_and_layer(tmp_path, monkeypatch):
    from kerasport.export.onnx import _emitters

    _, m = load(sentiment, tmp_path)
    table = dict(_emitters())
    table.pop("LSTM")
    monkeypatch.setattr("kerasport.export.onnx._emitters", lambda: table)
    lstm = next(n.layer for n in m.graph.nodes if n.op == "LSTM")
    with pytest.raises(KerasportError, match=rf"no ONNX mapping yet: LSTM \(from layer '{lstm}'\)"):
        to_onnx(m)
