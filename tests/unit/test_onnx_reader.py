"""The ONNX reader on small graphs built with onnx.helper, against ONNX Runtime (no torch, no
TensorFlow): layout (one transpose for a conv network, none for ONNX Transposes), folding of
PyTorch-style shape chains with a free batch, pooling pads. Tolerance: 1e-5 relative to the
output scale."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import kerasport  # noqa: E402

RNG = np.random.default_rng(5)
TOL = 1e-5


def _w(name, *shape, scale=0.3):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _save(tmp_path, nodes, x_shape, inits, opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return path


def _check(path, x):
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    model = kerasport.load(path)
    got = model(x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOL * max(np.abs(want).max(), 1.0)
    return model


def _ops(model):
    return [n.op for n in model.graph.nodes]


def test_conv_network_has_one_layout_transpose(tmp_path):
    bn = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (
        ("g", RNG.uniform(0.5, 1.5, 8)), ("b", RNG.uniform(-1, 1, 8)),
        ("m", RNG.uniform(-1, 1, 8)), ("v", RNG.uniform(0.5, 2, 8)))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], group=8, pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                         ceil_mode=1),
        helper.make_node("GlobalAveragePool", ["p"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f"]),
        helper.make_node("Gemm", ["f", "wd", "bd"], ["y"], transB=1),
    ]
    inits = [_w("w1", 8, 3, 3, 3), _w("b1", 8), _w("w2", 8, 1, 3, 3), _w("wd", 5, 8),
             _w("bd", 5), *bn]
    path = _save(tmp_path, nodes, ["N", 3, 17, 17], inits)
    model = _check(path, RNG.standard_normal((3, 3, 17, 17)).astype(np.float32))
    assert _ops(model).count("Transpose") == 1
    assert model.graph.values[model.graph.inputs[0]].shape == (None, 3, 17, 17)


def test_onnx_transposes_cost_nothing(tmp_path):
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Sigmoid", ["t"], ["s"]),
             helper.make_node("Transpose", ["s"], ["y"], perm=[0, 3, 1, 2])]
    path = _save(tmp_path, nodes, ["N", 2, 3, 4], [])
    model = _check(path, RNG.standard_normal((2, 2, 3, 4)).astype(np.float32))
    assert _ops(model) == ["Sigmoid"]


def test_pytorch_shape_chain_folds_with_a_free_batch(tmp_path):
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (
        ("zero", 0), ("axes", [0]), ("rest", [-1]))]
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
             helper.make_node("Concat", ["n1", "rest"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    path = _save(tmp_path, nodes, ["N", 3, 4], consts)
    for batch in (1, 4):
        model = _check(path, RNG.standard_normal((batch, 3, 4)).astype(np.float32))
    assert _ops(model) == ["Reshape"]


@pytest.mark.parametrize("include_pad", [0, 1])
@pytest.mark.parametrize("ceil_mode", [0, 1])
def test_average_pool_pads(tmp_path, include_pad, ceil_mode):
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 0, 1, 1], ceil_mode=ceil_mode,
                              count_include_pad=include_pad)]
    path = _save(tmp_path, nodes, ["N", 2, 8, 7], [])
    _check(path, RNG.standard_normal((2, 2, 8, 7)).astype(np.float32))


def test_bidirectional_lstm_time_major(tmp_path):
    h = 4
    nodes = [helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Yh"], hidden_size=h,
                              direction="bidirectional"),
             helper.make_node("Transpose", ["Y"], ["t"], perm=[2, 0, 1, 3]),
             helper.make_node("Flatten", ["t"], ["y"], axis=1)]
    inits = [_w("W", 2, 4 * h, 3), _w("R", 2, 4 * h, h), _w("B", 2, 8 * h)]
    path = _save(tmp_path, nodes, [40, "N", 3], inits)
    x = RNG.standard_normal((40, 2, 3)).astype(np.float32)
    model = _check(path, x)
    # one transpose, of the time-major graph input; after it the sequences stay batch-major
    assert _ops(model).count("Transpose") == 1
    # the fixed first axis (time) is not split into batches of 32 by predict
    np.testing.assert_array_equal(model.predict(x), model(x))


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_recurrent_sequence_lens(tmp_path, op, direction):
    h, gates, dirs = 4, {"LSTM": 4, "GRU": 3, "RNN": 1}[op], 1 + (direction == "bidirectional")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 3, 2])
    lens = helper.make_tensor_value_info("lens", TensorProto.INT32, [3])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Yh")]
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    node = helper.make_node(op, ["x", "W", "R", "B", "lens"], ["Y", "Yh"], hidden_size=h,
                            direction=direction, **extra)
    inits = [_w("W", dirs, gates * h, 2), _w("R", dirs, gates * h, h),
             _w("B", dirs, 2 * gates * h)]
    graph = helper.make_graph([node], "g", [x, lens], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "rnn.onnx"
    onnx.save(model, str(path))
    feeds = {"x": RNG.standard_normal((6, 3, 2)).astype(np.float32),
             "lens": np.array([6, 2, 4], np.int32)}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = kerasport.load(path)([feeds["x"], feeds["lens"]])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=TOL)
