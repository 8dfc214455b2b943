"""ONNX export: opsets, layout (transposes only at region boundaries), the zoo in ONNX Runtime,
quantization, the CLI and bad input. Every parity test also checks its model in ONNX Runtime
(keras_models.check_onnx, ONNX_TOL = 1e-5 of the output scale)."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
from keras_models import ONNX_TOL, check_onnx, keras_module, random_inputs, randomize, save

import kerasport
import kerasport.export.onnx
from kerasport.cli import main
from kerasport.errors import KerasportError, MissingExtraError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def mixed(k):
    """Ops whose ONNX form depends on the opset (Gelu, Mish, LayerNormalization, Reduce*)."""
    inp = k.Input((6, 6, 4))
    x = k.layers.Conv2D(8, 3, padding="same", activation="gelu")(inp)
    x = k.layers.Activation("mish")(x)
    x = k.layers.LayerNormalization()(x)
    x = k.layers.Softmax(axis=[1, 2])(x)
    y = k.layers.GlobalAveragePooling2D()(x)
    z = k.layers.GroupNormalization(2)(x)
    z = k.layers.UnitNormalization()(k.layers.Flatten()(z))
    return k.Model(inp, [k.layers.Dense(3, activation="log_softmax")(y), z])


@pytest.fixture(scope="module")
def mixed_model(tmp_path_factory):
    k = keras_module("k3")
    model = mixed(k)
    randomize(model)
    path = save(model, tmp_path_factory.mktemp("onnx") / "mixed.keras")
    return kerasport.load(path), random_inputs(model)


@pytest.mark.parametrize("opset", [13, 17, 18, 20, onnx.defs.onnx_opset_version()])
def test_opsets(mixed_model, opset):
    m, inputs = mixed_model
    expected = m.predict(inputs[0])
    check_onnx(m, inputs, expected, opset=opset)


def test_unsupported_opset(mixed_model):
    m, _ = mixed_model
    with pytest.raises(KerasportError, match="opset 12 is not supported"):
        kerasport.export.onnx.to_onnx(m, opset=12)


def _transposes(proto) -> int:
    return sum(n.op_type == "Transpose" for n in proto.graph.node)


def test_conv_chain_has_transposes_only_at_boundaries(tmp_path):
    k = keras_module("k3")
    inp = k.Input((16, 16, 3))
    x = inp
    for f in (8, 16):
        y = k.layers.Conv2D(f, 3, padding="same")(x)
        y = k.layers.BatchNormalization()(y)
        y = k.layers.ReLU()(y)
        y = k.layers.DepthwiseConv2D(3, padding="same")(y)
        x = k.layers.MaxPooling2D()(k.layers.Add()([y, k.layers.Conv2D(f, 1)(x)]))
    x = k.layers.Flatten()(x)
    model = k.Model(inp, k.layers.Dense(4)(x))
    randomize(model)
    m = kerasport.load(save(model, tmp_path / "chain.keras"))
    proto = kerasport.export.onnx.to_onnx(m)
    assert _transposes(proto) == 2  # into channels-first at the input, back before Flatten
    inputs = random_inputs(model)
    check_onnx(m, inputs, [m.predict(inputs[0])])
    nchw = kerasport.export.onnx.to_onnx(m, inputs_as_nchw=True)
    assert _transposes(nchw) == 1
    sess = ort.InferenceSession(nchw.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {m.input_names[0]: np.moveaxis(inputs[0], -1, 1)})[0]
    np.testing.assert_allclose(got, m.predict(inputs[0]), atol=1e-5, rtol=1e-5)


ZOO = ["MobileNetV2", "ResNet50", "EfficientNetB0", "MobileNetV3Small", "ConvNeXtTiny",
       "NASNetMobile", "DenseNet121"]


@pytest.mark.parametrize("name", ZOO)
def test_zoo_in_onnx_runtime(name, tmp_path):
    k = keras_module("k3")
    model = getattr(k.applications, name)(weights=None, input_shape=(32, 32, 3), classes=10,
                                          classifier_activation=None)
    randomize(model)
    m = kerasport.load(save(model, tmp_path / f"{name}.keras"))
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    err = check_onnx(m, [x], [m.predict(x)])
    assert err <= ONNX_TOL


@pytest.fixture(scope="module")
def digits():
    return (kerasport.load(EXAMPLES / "digits_cnn.keras"),
            np.load(EXAMPLES / "digits_test_x.npy"), np.load(EXAMPLES / "digits_test_y.npy"))


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_quantize(digits, mode, tmp_path, capsys):
    m, x, y = digits
    np.save(tmp_path / "calib.npy", x[:100])
    out = tmp_path / f"{mode}.onnx"
    args = ["convert", str(EXAMPLES / "digits_cnn.keras"), "--to", "onnx", "-o", str(out),
            "--quantize", mode]
    if mode == "static":
        args += ["--calibration", str(tmp_path / "calib.npy")]
    assert main(args) == 0
    float_out = tmp_path / "float.onnx"
    assert main(["convert", str(EXAMPLES / "digits_cnn.keras"), "--to", "onnx", "-o",
                 str(float_out)]) == 0
    assert out.stat().st_size < 0.4 * float_out.stat().st_size
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    probs = sess.run(None, {"image": x})[0]
    acc = np.mean(probs.argmax(1) == y)
    base = np.mean(m.predict(x).argmax(1) == y)
    assert acc >= base - 0.02, (acc, base)


def test_static_quantize_needs_calibration(tmp_path, capsys):
    code = main(["convert", str(EXAMPLES / "digits_cnn.keras"), "--to", "onnx", "-o",
                 str(tmp_path / "q.onnx"), "--quantize", "static"])
    assert code == 2 and "calibration" in capsys.readouterr().err
    assert not (tmp_path / "q.onnx").exists()


def test_cli_onnx_options(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["convert", str(EXAMPLES / "digits_cnn.keras"), "--to", "onnx", "-o", str(out),
                 "--opset", "18", "--batch-size", "4", "--inputs-as-nchw"]) == 0
    text = capsys.readouterr().out
    assert "opset 18" in text and "max relative error" in text
    proto = onnx.load(str(out))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [4, 1, 8, 8]
    assert proto.graph.input[0].name == "image" and proto.graph.output[0].name == "probs"


def test_op_without_onnx_mapping_names_op_and_layer(digits, monkeypatch):
    from kerasport.export.onnx import _emitters

    m, _, _ = digits
    table = dict(_emitters())
    table.pop("Softmax")
    monkeypatch.setattr("kerasport.export.onnx._emitters", lambda: table)
    with pytest.raises(KerasportError, match=r"Softmax \(from layer 'probs'\)"):
        kerasport.export.onnx.to_onnx(m)


def test_missing_onnx_extra(digits, monkeypatch, tmp_path):
    m, _, _ = digits
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(MissingExtraError, match=r"kerasport\[onnx\]"):
        kerasport.export.onnx.export_onnx(m, str(tmp_path / "x.onnx"))
    assert not (tmp_path / "x.onnx").exists()
