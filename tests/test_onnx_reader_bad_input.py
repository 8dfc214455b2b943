"""Bad ONNX input: each a kerasport error naming the file and what to do, and nothing written."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import kerasport  # noqa: E402
from kerasport.errors import KerasportError, ModelFileError, UnsupportedLayerError  # noqa: E402


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _relu_model(opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    return _model([helper.make_node("Relu", ["x"], ["y"])], [x], [y], opset=opset)


def _save(model, path):
    onnx.save(model, str(path))
    return path


def _refused(path, tmp_path, match, error=KerasportError):
    with pytest.raises(error, match=match) as info:
        kerasport.load(path)
    out = tmp_path / "out.npz"
    with pytest.raises(KerasportError):
        kerasport.convert(path, str(out), to="bundle")
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".kerasport-")] == []
    return str(info.value)


def test_a_valid_model_loads(tmp_path):
    path = _save(_relu_model(), tmp_path / "ok.onnx")
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(kerasport.load(path).predict(x), np.maximum(x, 0))


def test_truncated_file(tmp_path):
    data = _relu_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    msg = _refused(path, tmp_path, "cut.onnx", ModelFileError)
    assert "ONNX" in msg


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "text.onnx"
    path.write_text("this is not a model\n" * 10)
    _refused(path, tmp_path, "not an ONNX model", ModelFileError)


def test_opset_older_than_11(tmp_path):
    path = _save(_relu_model(opset=10), tmp_path / "old.onnx")
    msg = _refused(path, tmp_path, "opset 10 is older than 11", ModelFileError)
    assert "version_converter" in msg


def _external_model(tmp_path, write_data):
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [y], [w])
    path = tmp_path / "ext.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="ext.data",
              size_threshold=0)
    if not write_data:
        os.unlink(tmp_path / "ext.data")
    return path


@pytest.mark.parametrize("present", [True, False], ids=["present", "missing"])
def test_external_data_is_refused(tmp_path, present):
    path = _external_model(tmp_path, present)
    msg = _refused(path, tmp_path, "external data", ModelFileError)
    assert ("present" if present else "MISSING") in msg
    assert "save_as_external_data=False" in msg


def test_every_unsupported_node_in_one_error(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Hardmax", ["a"], ["b"], name="hm"),
             helper.make_node("Custom", ["x"], ["c"], name="mine", domain="my.domain"),
             helper.make_node("Add", ["b", "c"], ["y"])]
    model = _model(nodes, [x], [y])
    model.opset_import.append(helper.make_opsetid("my.domain", 1))
    path = _save(model, tmp_path / "unsup.onnx")
    msg = _refused(path, tmp_path, "cannot be converted", UnsupportedLayerError)
    assert "'hm' (Hardmax)" in msg and "'mine' (my.domain::Custom)" in msg
    assert "Add" not in msg  # fed by the failed nodes: not a cause of its own


def test_shapes_that_cannot_be_resolved(tmp_path):
    # a reshape that merges the free batch into another axis
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
    shape = numpy_helper.from_array(np.array([-1], np.int64), "shape")
    model = _model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")], [x], [y],
                   [shape])
    path = _save(model, tmp_path / "free.onnx")
    msg = _refused(path, tmp_path, "input shapes", UnsupportedLayerError)
    assert "'r' (Reshape)" in msg
    # with the batch fixed it converts
    data = np.arange(48, dtype=np.float32).reshape(2, 4, 6)
    got = kerasport.load(path, input_shapes={"x": (2, 4, 6)})(data)
    np.testing.assert_array_equal(got, data.reshape(-1))


def test_weights_computed_at_run_time(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="c")], [x, w], [y])
    path = _save(model, tmp_path / "dynw.onnx")
    _refused(path, tmp_path, "weight .* must be a constant", UnsupportedLayerError)


def test_hostile_sizes_are_refused_before_allocating(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    # an initializer that declares 10^12 elements and holds 4 bytes
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10**6, 10**6],
                      raw_data=b"\0\0\0\0")
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [big])
    _refused(_save(model, tmp_path / "init.onnx"), tmp_path, "big|malformed|init",
             ModelFileError)
    # a constant of 10^12 zeros made at import
    shape = numpy_helper.from_array(np.array([10**6, 10**6], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["z"], name="fill"),
             helper.make_node("Add", ["x", "z"], ["y"])]
    model = _model(nodes, [x], [y], [shape])
    msg = _refused(_save(model, tmp_path / "fill.onnx"), tmp_path, "fill",
                   UnsupportedLayerError)
    assert "corrupt or hostile" in msg


def test_hostile_resize_of_a_constant_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(np.ones((1, 1, 2, 2), np.float32), "small"),
             numpy_helper.from_array(np.array([1, 1, 1e6, 1e6], np.float32), "scales")]
    nodes = [helper.make_node("Resize", ["small", "", "scales"], ["big"], name="grow"),
             helper.make_node("Add", ["x", "big"], ["y"])]
    path = _save(_model(nodes, [x], [y], inits), tmp_path / "grow.onnx")
    msg = _refused(path, tmp_path, "grow", UnsupportedLayerError)
    assert "corrupt or hostile" in msg
