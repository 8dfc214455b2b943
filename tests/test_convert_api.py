"""kerasport.convert: the conversion API that ``kerasport convert`` and ``kerasport batch``
both call (no TensorFlow needed: the example model is a .keras file in the repository)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kerasport
from kerasport.conversion import ConvertOptions

ROOT = Path(__file__).resolve().parent.parent
DIGITS = str(ROOT / "examples" / "digits_cnn.keras")


def test_bundle_result(tmp_path):
    out = tmp_path / "d.npz"
    r = kerasport.convert(DIGITS, str(out), weights="float16")
    assert isinstance(r, kerasport.ConversionResult)
    assert r.output == str(out) and r.files == [str(out)] and r.size == out.stat().st_size
    assert r.target == "bundle" and r.source_size > r.size and r.seconds > 0
    assert r.error == 0.0 and r.metric.startswith("float16 vs float32 error")
    assert r.lines[0].startswith(f"wrote {out} (") and "verify" in r.lines[1]


def test_python_result(tmp_path):
    r = kerasport.convert(DIGITS, str(tmp_path / "py"), to="python", weights="int8")
    assert [Path(f).name for f in r.files] == ["digits_cnn.py", "digits_cnn_weights.npz"]
    assert all(Path(f).exists() for f in r.files) and r.error is None


def test_onnx_result(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    r = kerasport.convert(DIGITS, str(tmp_path / "d.onnx"), to="onnx", opset=13,
                          batch_size="dynamic")
    assert r.error is not None and r.error < 1e-5 and r.metric.startswith("ORT error")
    assert "opset 13" in r.lines[0]


def test_failed_check_leaves_nothing(tmp_path, monkeypatch):
    def fail(self, tolerance=1e-4):
        raise kerasport.VerificationError("drifted")

    monkeypatch.setattr(kerasport.Model, "verify", fail)
    with pytest.raises(kerasport.VerificationError):
        kerasport.convert(DIGITS, str(tmp_path / "d.npz"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs,message", [
    ({"to": "coreml"}, "--to 'coreml' is not one of"),
    ({"weights": "int4"}, "--weights 'int4' is not one of"),
    ({"quantize": "int4"}, "--quantize 'int4' is not one of"),
    ({"opset": "x"}, "--opset expects an integer"),
    ({"batch_size": "many"}, "--batch-size expects an integer"),
    ({"mean": "a,b"}, "--mean expects a number"),
])
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(kerasport.InputError, match=message):
        kerasport.convert(DIGITS, str(tmp_path / "x"), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_the_input():
    with pytest.raises(kerasport.KerasportError, match="refusing to overwrite"):
        kerasport.convert(DIGITS, DIGITS)


def test_loose_values_normalised():
    o = ConvertOptions.create("tflite", batch_size="4", mean="0.5,0.25", std=2, scale="0.5",
                              calibration_samples="10")
    assert (o.batch_size, o.mean, o.std, o.scale, o.calibration_samples) == (
        4, (0.5, 0.25), (2.0,), 0.5, 10)
    assert ConvertOptions.create(batch_size="dynamic").batch_size is None


def test_batch_does_not_import_the_cli():
    code = "import sys, kerasport.batch; sys.exit('kerasport.cli' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
