"""Engines behind Model.predict (kerasport.engines): ONNX Runtime and LiteRT built in memory
from kerasport's own exports, checked against the NumPy runtime, with predict's semantics.

Tolerance: every engine's outputs are compared with Keras' own as max|y - y_keras| /
max(1, max|y_keras|) <= 1e-4 (NumPy alone: 1e-5, as the parity suite)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from keras_models import keras_module, max_error, randomize, save

import kerasport
from kerasport.engines import CHECK_TOLERANCE, EngineUnavailable, litert, ort
from kerasport.errors import InputError, KerasportError, MissingExtraError, VerificationError
from kerasport.model import as_list

TOL = {"numpy": 1e-5, "onnxruntime": 1e-4, "litert": 1e-4}
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def two_io(tmp_path_factory):
    """Two inputs (an image and a vector), conv + BatchNorm, two outputs returned as a dict."""
    k = keras_module("k3")
    img, vec = k.Input((8, 8, 3), name="img"), k.Input((5,), name="vec")
    x = k.layers.Conv2D(6, 3, padding="same", name="conv")(img)
    x = k.layers.BatchNormalization(name="bn")(x)
    x = k.layers.DepthwiseConv2D(3, strides=2, activation="relu", name="dw")(x)
    x = k.layers.GlobalAveragePooling2D(name="gap")(x)
    x = k.layers.Concatenate(name="cat")([x, k.layers.Dense(4, name="proj")(vec)])
    model = k.Model([img, vec], {"cls": k.layers.Dense(3, activation="softmax", name="cls")(x),
                                 "reg": k.layers.Dense(2, name="reg")(x)})
    randomize(model)
    path = save(model, tmp_path_factory.mktemp("engines") / "two_io.keras")
    rng = np.random.default_rng(3)
    xs = {"img": rng.standard_normal((23, 8, 8, 3)).astype("float32"),
          "vec": rng.standard_normal((23, 5)).astype("float32")}
    want = model.predict(xs, verbose=0)
    return path, xs, {k: np.asarray(v) for k, v in want.items()}


@pytest.mark.parametrize("engine", ["numpy", "onnxruntime"])
def test_engine_matches_keras(two_io, engine):
    path, xs, want = two_io
    m = kerasport.load(path, engine=engine)
    assert m.engine == engine
    for batch_size in (None, 7, 100):
        got = m.predict(xs, batch_size=batch_size)
        assert isinstance(got, dict) and list(got) == ["cls", "reg"]
        assert {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in want.items()}
        err = max_error(as_list(got), [want["cls"], want["reg"]])
        assert err <= TOL[engine], (engine, batch_size, err)
    as_list_input = m.predict([xs["img"], xs["vec"]], batch_size=5)
    np.testing.assert_array_equal(as_list_input["reg"], m(xs)["reg"])


def test_engine_keeps_input_errors(two_io):
    path, xs, _ = two_io
    m = kerasport.load(path, engine="onnxruntime")
    with pytest.raises(InputError, match="add the batch axis"):
        m.predict({"img": xs["img"][0], "vec": xs["vec"]})
    with pytest.raises(InputError, match="takes 2 inputs"):
        m.predict([xs["img"]])
    with pytest.raises(InputError, match="same batch size"):
        m.predict({"img": xs["img"], "vec": xs["vec"][:3]})


def test_bundle_engine_checked_on_recorded_reference(two_io, tmp_path):
    path, xs, want = two_io
    bundle = tmp_path / "m.npz"
    kerasport.load(path).save(str(bundle))
    m = kerasport.load(bundle, engine="onnxruntime")
    assert "checked against numpy" in m.engine_notes[0]
    assert m.verify() <= 1e-5  # the recorded reference, run by ONNX Runtime
    assert max_error(as_list(m.predict(xs)), [want["cls"], want["reg"]]) <= TOL["onnxruntime"]


def test_auto_names_its_choice_and_the_skipped(two_io):
    path, xs, want = two_io
    m = kerasport.load(path, engine="auto")
    assert m.engine in ("numpy", "onnxruntime")
    assert m.engine_notes[0].startswith(f"auto chose {m.engine}: fastest")
    assert any(n.startswith("litert: skipped") for n in m.engine_notes)
    assert max_error(as_list(m.predict(xs)), [want["cls"], want["reg"]]) <= 1e-4


def test_missing_package_names_the_extra(two_io, monkeypatch):
    path, xs, _ = two_io
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"kerasport\[onnx\]"):
        kerasport.load(path, engine="onnxruntime")
    m = kerasport.load(path, engine="auto")
    assert m.engine == "numpy"
    assert any("onnxruntime: skipped" in n and "not installed" in n for n in m.engine_notes)


def test_unknown_engine_refused_before_loading(tmp_path):
    with pytest.raises(KerasportError, match="unknown engine 'tensorrt'.*onnxruntime"):
        kerasport.load(tmp_path / "does-not-exist.keras", engine="tensorrt")


def test_unsupported_op_skips_engine(tmp_path):
    k = keras_module("k3")
    inp = k.Input((4,), dtype="int64", name="ids")
    model = k.Model(inp, k.layers.Hashing(7, name="hash")(inp))
    path = save(model, tmp_path / "hash.keras")
    with pytest.raises(EngineUnavailable, match="cannot run these ops: FarmHash \\(layer 'hash'"):
        kerasport.load(path, engine="onnxruntime")
    m = kerasport.load(path, engine="auto")
    assert m.engine == "numpy"
    assert any("onnxruntime: skipped" in n and "FarmHash" in n for n in m.engine_notes)
    ids = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(m.predict(ids), np.asarray(model(ids)))


def test_engine_that_drifts_is_refused(two_io, monkeypatch):
    path, _, _ = two_io
    real = ort.build

    def off_by_a_little(model, threads=None):
        run = real(model, threads)
        return lambda xs: [y + 10 * CHECK_TOLERANCE for y in run(xs)]

    monkeypatch.setattr(ort, "build", off_by_a_little)
    with pytest.raises(VerificationError, match="onnxruntime engine differs"):
        kerasport.load(path, engine="onnxruntime")
    m = kerasport.load(path, engine="auto")
    assert m.engine == "numpy"
    assert any("onnxruntime: skipped" in n and "differs" in n for n in m.engine_notes)


def test_litert_unavailable_says_why(two_io):
    path, _, _ = two_io
    if litert.WRITER is not None:
        pytest.skip("a TFLite writer is plugged in")
    with pytest.raises(KerasportError, match="TensorFlow-free TFLite writer"):
        kerasport.load(path, engine="litert")


def test_litert_runner_with_a_plugged_writer(tmp_path, monkeypatch):
    """The LiteRT runner (resizing for each batch size) on a flatbuffer from TensorFlow's
    converter, plugged in as WRITER the way kerasport's own writer will be."""
    pytest.importorskip("ai_edge_litert")
    tf = pytest.importorskip("tensorflow")
    k = keras_module("k3")
    inp = k.Input((6,), name="x")
    h = k.layers.Dense(16, activation="tanh", name="h")(inp)
    model = k.Model(inp, k.layers.Dense(4, name="y")(h))
    randomize(model)
    path = save(model, tmp_path / "mlp.keras")
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    monkeypatch.setattr(litert, "WRITER", lambda m: content)
    m = kerasport.load(path, engine="litert")
    assert m.engine == "litert"
    x = np.random.default_rng(0).standard_normal((37, 6)).astype("float32")
    want = np.asarray(model.predict(x, verbose=0))
    for batch_size in (1, 10, 64):
        assert max_error([m.predict(x, batch_size=batch_size)], [want]) <= TOL["litert"]


def test_cli_predict_engine(two_io, tmp_path, capsys):
    from kerasport.cli import main

    path, xs, want = two_io
    np.savez(tmp_path / "x.npz", **xs)
    out = tmp_path / "y.npz"
    assert main(["predict", str(path), "-i", str(tmp_path / "x.npz"), "-o", str(out),
                 "--engine", "onnxruntime"]) == 0
    assert "onnxruntime: checked against numpy" in capsys.readouterr().err
    with np.load(out) as y:
        assert max_error([y["cls"], y["reg"]], [want["cls"], want["reg"]]) <= TOL["onnxruntime"]
