"""TFLite export (``kerasport convert --to tflite|edgetpu``): every quantization mode on the
example digits CNN, Keras 2 and Keras 3 files, an LSTM, Flex ops, Edge TPU, calibration data
sources and bad input. Each produced file is run in LiteRT and compared with kerasport's float
runtime.

Bounds (digits CNN, 450 held-back images, outputs are probabilities):
  float32: max error <= 1e-5 relative to max(1, |output|);
  float16: max error <= 5e-3, same top-1 class on >= 99%;
  dynamic: mean abs error <= 2e-3, same top-1 class on >= 98%;
  int8 / uint8: accuracy within 2 points of float32, size <= 30% of the float32 file.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from keras_models import keras_module, randomize, save

import kerasport
from kerasport.cli import main
from kerasport.errors import InputError, KerasportError, MissingExtraError

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from kerasport.export.tflite import TFLiteOptions, export_tflite  # noqa: E402
from kerasport.export.tflite.check import FlexUnavailable, run_tflite  # noqa: E402
from kerasport.export.tflite.convert import (  # noqa: E402
    ModelInfo,
    TFLiteConversionError,
    convert_saved_model,
    explain_converter_error,
)
from kerasport.export.tflite.edgetpu import compile_for_edgetpu  # noqa: E402
from kerasport.quantize.calibration import ImageOptions, Progress, load_calibration  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DIGITS = EXAMPLES / "digits_cnn.keras"
X = EXAMPLES / "digits_test_x.npy"
Y = EXAMPLES / "digits_test_y.npy"
MODES = ["none", "float16", "dynamic", "int8", "uint8"]


@pytest.fixture(scope="module")
def digits_model():
    return kerasport.load(DIGITS)


@pytest.fixture(scope="module")
def digits(tmp_path_factory, digits_model):
    """The digits CNN converted in every mode (shared: conversions are slow)."""
    out = tmp_path_factory.mktemp("digits")
    calib = [np.load(X)]
    labels = np.load(Y)
    reports = {}
    for mode in MODES:
        reports[mode] = export_tflite(str(DIGITS), str(out / f"digits_{mode}.tflite"),
                                      digits_model, TFLiteOptions(mode), calib, labels)
    return reports


def _input_detail(path: str) -> dict:
    interp = Interpreter(model_path=path)
    return interp.get_input_details()[0]


@pytest.mark.parametrize("mode", MODES)
def test_digits_mode_runs_in_litert(digits, mode):
    r = digits[mode]
    assert os.path.getsize(r.path) == r.size > 0
    c = r.check
    assert c is not None and c.interpreter == "LiteRT" and c.n_samples == 450
    assert c.latency_ms > 0
    want_dtype = {"int8": np.float32, "uint8": np.uint8}.get(mode, np.float32)
    assert np.dtype(_input_detail(r.path)["dtype"]) == want_dtype
    if mode == "none":
        assert c.max_error <= 1e-5, c
    elif mode == "float16":
        assert c.max_error <= 5e-3 and c.top1_agreement >= 0.99, c
    elif mode == "dynamic":
        assert c.mean_abs_error <= 2e-3 and c.top1_agreement >= 0.98, c
    else:
        assert c.accuracy >= c.float_accuracy - 0.02, c
        assert c.top1_agreement >= 0.97, c
    assert c.float_accuracy == pytest.approx(0.9844, abs=1e-3)  # Keras' own accuracy


@pytest.mark.parametrize("mode", ["dynamic", "int8", "uint8"])
def test_digits_quantized_size(digits, mode):
    assert digits[mode].size <= 0.30 * digits["none"].size
    assert digits["float16"].size <= 0.55 * digits["none"].size


def test_quantized_io_is_rescaled(digits, digits_model):
    """Feeding uint8 I/O through the tensors' scale/zero point gives float-like outputs."""
    content = Path(digits["uint8"].path).read_bytes()
    x = np.load(X)[:20]
    got, _, _ = run_tflite(content, [x], digits_model.input_names, digits_model.output_names)
    want = digits_model.predict(x)
    assert got[0].dtype == np.float32 and np.abs(got[0] - want).max() < 0.1
    assert np.all(got[0].argmax(1) == want.argmax(1))


def test_report_lines(digits):
    text = "\n".join(digits["int8"].lines())
    assert "int8 (float32 I/O)" in text and "accuracy" in text and "top-1" in text
    assert "max error" in "\n".join(digits["none"].lines())


def test_cli_int8_io(tmp_path, capsys):
    out = tmp_path / "d8.tflite"
    code = main(["convert", str(DIGITS), "--to", "tflite", "-o", str(out), "--quantize", "int8",
                 "--io-type", "int8", "--calibration", str(X), "--labels", str(Y)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "checked in LiteRT on 450 calibration inputs" in text and "accuracy" in text
    detail = _input_detail(str(out))
    assert np.dtype(detail["dtype"]) == np.int8 and detail["quantization"][0] > 0


def test_edgetpu_without_compiler(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "tpu.tflite"
    code = main(["convert", str(DIGITS), "--to", "edgetpu", "-o", str(out),
                 "--calibration", str(X)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "edgetpu_compiler is not on PATH" in text and str(out) in text
    detail = _input_detail(str(out))
    assert np.dtype(detail["dtype"]) == np.uint8 and list(detail["shape_signature"])[0] == 1


def test_edgetpu_with_compiler(digits, tmp_path, monkeypatch):
    """A stand-in edgetpu_compiler (copies its input the way the real one names it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "edgetpu_compiler"
    fake.write_text(f"#!{sys.executable}\n# args: -s -o OUTDIR MODEL\n"
                    "import os, shutil, sys\n"
                    "out, model = sys.argv[3], sys.argv[4]\n"
                    "name = os.path.basename(model)[:-len('.tflite')] + '_edgetpu.tflite'\n"
                    "shutil.copyfile(model, os.path.join(out, name))\n"
                    "print('Number of operations that will run on Edge TPU: 9')\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir))
    model = tmp_path / "m.tflite"
    model.write_bytes(Path(digits["uint8"].path).read_bytes())
    compiled, message = compile_for_edgetpu(str(model))
    assert compiled == str(tmp_path / "m_edgetpu.tflite") and os.path.exists(compiled)
    assert "will run on Edge TPU" in message


def _small_cnn(k):
    return k.Sequential([k.Input((10, 10, 3), name="img"),
                         k.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1"),
                         k.layers.BatchNormalization(name="bn"),
                         k.layers.MaxPooling2D(name="pool"),
                         k.layers.Flatten(name="flat"),
                         k.layers.Dense(6, activation="softmax", name="out")])


@pytest.mark.parametrize("flavour,ext,mode", [("k2", "h5", "none"), ("k2", "keras", "int8"),
                                              ("k3", "h5", "float16")])
def test_keras2_and_keras3_files(flavour, ext, mode, tmp_path):
    k = keras_module(flavour)
    km = _small_cnn(k)
    randomize(km)
    path = save(km, tmp_path / f"m.{ext}")
    model = kerasport.load(path)
    assert model.meta["keras_version"].startswith("2" if flavour == "k2" else "3")
    x = np.random.default_rng(0).uniform(0, 1, (64, 10, 10, 3)).astype(np.float32)
    r = export_tflite(str(path), str(tmp_path / "m.tflite"), model, TFLiteOptions(mode), [x])
    c = r.check
    bound = {"none": 1e-5, "float16": 5e-3, "int8": 5e-2}[mode]
    assert c.max_error <= bound, c
    assert c.top1_agreement >= (1.0 if mode == "none" else 0.9), c


def _lstm_file(flavour: str, tmp_path: Path) -> Path:
    k = keras_module(flavour)
    km = k.Sequential([k.Input((12, 4), name="seq"), k.layers.LSTM(16, name="lstm"),
                       k.layers.Dense(5, activation="softmax", name="head")])
    randomize(km)
    return save(km, tmp_path / f"lstm_{flavour}.keras")


@pytest.fixture(scope="module", params=["k3", "k2"])
def lstm(request, tmp_path_factory):
    path = _lstm_file(request.param, tmp_path_factory.mktemp("lstm"))
    try:
        model = kerasport.load(path)
    except KerasportError as exc:
        pytest.skip(f"kerasport does not convert this LSTM yet: {exc}")
    return request.param, path, model


@pytest.mark.parametrize("mode,allow", [("none", False), ("none", True), ("float16", False),
                                        ("dynamic", True)])
def test_lstm_modes(lstm, mode, allow, tmp_path):
    flavour, path, model = lstm
    x = np.random.default_rng(0).standard_normal((32, 12, 4)).astype(np.float32)
    r = export_tflite(str(path), str(tmp_path / "l.tflite"), model,
                      TFLiteOptions(mode, allow_tf_ops=allow), [x])
    assert "batch fixed to 1" in r.note and r.options.batch_size == 1
    assert r.check is not None, r.note  # builtin ops only: runs in LiteRT even with Flex allowed
    # Keras 3's LSTM becomes a WHILE loop of builtin ops (float32 exact); tf_keras' becomes
    # TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM kernel, measured 7e-3 away from Keras.
    bound = {"none": 1e-5 if flavour == "k3" else 1e-2, "float16": 1e-2, "dynamic": 2e-2}[mode]
    assert r.check.max_error <= bound, r.check
    assert r.check.top1_agreement >= 0.9


def test_lstm_full_int8(lstm, tmp_path):
    """TensorFlow 2.21's full-integer quantizer crashes (SIGSEGV) on Keras 3's LSTM (a WHILE
    loop): the crash stays in the worker process and becomes an error. tf_keras' LSTM (fused
    kernel) converts."""
    flavour, path, model = lstm
    x = np.random.default_rng(0).standard_normal((32, 12, 4)).astype(np.float32)
    out = tmp_path / "l8.tflite"
    try:
        r = export_tflite(str(path), str(out), model, TFLiteOptions("int8"), [x])
    except TFLiteConversionError as exc:
        assert flavour == "k3", exc  # tf_keras' fused LSTM quantizes fine
        assert "crashed" in str(exc) and "try --quantize dynamic" in str(exc), exc
        assert not out.exists()
        return
    assert r.check.top1_agreement >= 0.8, r.check


@pytest.fixture(scope="module")
def flex_saved_model(tmp_path_factory):
    """A SavedModel whose 'my_layer' uses tf.math.cumprod on complex values (TFLite has no
    builtin kernel for it: a Flex op)."""
    tf = pytest.importorskip("tensorflow")

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            with tf.name_scope("my_layer"):
                y = tf.math.real(tf.math.cumprod(tf.signal.rfft(tf.abs(x)), axis=1))
            return {"output_0": y}

    directory = str(tmp_path_factory.mktemp("flex") / "saved")
    module = Module()
    tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})
    return directory


def test_flex_ops_named_and_allowed(flex_saved_model):
    info = ModelInfo(3, ["x"], [[None, 4]], ["float32"], ["my_layer"])
    with pytest.raises(TFLiteConversionError) as err:
        convert_saved_model(flex_saved_model, info, TFLiteOptions("none"))
    text = str(err.value)
    assert "Cumprod" in text and "my_layer" in text and "--allow-tf-ops" in text
    content = convert_saved_model(flex_saved_model, info, TFLiteOptions("none",
                                                                        allow_tf_ops=True))
    assert content[4:8] == b"TFL3"
    with pytest.raises(FlexUnavailable, match="FlexCumprod"):
        run_tflite(content, [np.ones((1, 4), np.float32)], ["x"], ["output_0"])


def test_explain_custom_and_generic_errors():
    assert "neither TFLite nor its Flex" in explain_converter_error(
        "error: x\nCustom ops: Foo\n", [])
    assert explain_converter_error("something else went wrong: error here", []).startswith(
        "TensorFlow's converter failed")


# -- bad input ----------------------------------------------------------------------------
def test_missing_tensorflow_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` fails
    code = main(["convert", str(DIGITS), "--to", "tflite", "-o", str(tmp_path / "m.tflite"),
                 "--converter", "tensorflow"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'kerasport[tflite-tf]'" in err
    assert not (tmp_path / "m.tflite").exists()
    with pytest.raises(MissingExtraError):
        from kerasport.export.tflite._deps import import_tensorflow

        import_tensorflow()


def test_missing_litert_extra(tmp_path, digits_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(MissingExtraError, match=r"kerasport\[tflite\]"):
        export_tflite(str(DIGITS), str(tmp_path / "m.tflite"), digits_model)


def test_int8_needs_calibration(tmp_path, capsys):
    out = tmp_path / "m.tflite"
    code = main(["convert", str(DIGITS), "--to", "tflite", "-o", str(out), "--quantize", "int8"])
    assert code == 2 and "--calibration" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("argv,message", [
    (["--quantize", "float16", "--io-type", "int8"], "needs full integer"),
    (["--quantize", "uint8", "--io-type", "int8"], "uint8 inputs/outputs"),
    (["--quantize", "static"], "unknown TFLite quantization"),
    (["--labels", str(Y)], "give --calibration"),
])
def test_bad_options(argv, message, tmp_path, capsys):
    code = main(["convert", str(DIGITS), "--to", "tflite", "-o", str(tmp_path / "m.tflite"),
                 *argv])
    assert code == 2 and message in capsys.readouterr().err


def test_bundle_source_refused(tmp_path, digits_model, capsys):
    bundle = tmp_path / "d.npz"
    digits_model.save(str(bundle))
    code = main(["convert", str(bundle), "--to", "tflite", "-o", str(tmp_path / "m.tflite"),
                 "--converter", "tensorflow"])
    assert code == 2 and "original .keras/.h5" in capsys.readouterr().err


# -- calibration data ---------------------------------------------------------------------
def test_calibration_wrong_shape(tmp_path, digits_model):
    np.save(tmp_path / "bad.npy", np.zeros((4, 9, 9, 1), np.float32))
    with pytest.raises(InputError, match="expects shape"):
        load_calibration(str(tmp_path / "bad.npy"), digits_model)


def test_calibration_image_folder(tmp_path, digits_model):
    image = pytest.importorskip("PIL.Image")
    x = np.load(X)[:5]
    folder = tmp_path / "images"
    folder.mkdir()
    for i, a in enumerate(x):
        image.fromarray((a[..., 0] * 255).round().astype(np.uint8)).save(folder / f"{i:02d}.png")
    (folder / "notes.txt").write_text("not an image")
    got = load_calibration(str(folder), digits_model)[0]
    assert got.shape == (5, 8, 8, 1) and np.abs(got - x).max() <= 0.5 / 255 + 1e-6
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    image.fromarray(np.zeros((20, 30, 3), np.uint8) + 255).save(rgb / "big.jpg")
    resized = load_calibration(str(rgb), digits_model)[0]  # grey, resized to 8x8
    assert resized.shape == (1, 8, 8, 1) and np.allclose(resized, 1.0, atol=0.01)
    scaled = load_calibration(str(folder), digits_model,
                              images=ImageOptions(scale=1.0, mean=(127.5,), std=(127.5,)))[0]
    assert np.allclose(scaled, got * 255 / 127.5 - 1, atol=1e-4)


def test_calibration_empty_folder_and_bad_image(tmp_path, digits_model):
    pytest.importorskip("PIL")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no images"):
        load_calibration(str(empty), digits_model)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError, match=r"x\.png cannot be read"):
        load_calibration(str(broken), digits_model)


def test_calibration_python_dataset(tmp_path, digits_model):
    script = tmp_path / "data.py"
    script.write_text(f"import numpy as np\n\ndef get_dataset():\n"
                      f"    x = np.load({str(X)!r})\n"
                      f"    for i in range(7):\n        yield x[i], i  # (x, label) pairs\n")
    got = load_calibration(str(script), digits_model)[0]
    assert got.shape == (7, 8, 8, 1) and np.array_equal(got, np.load(X)[:7])
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\n\ndef get_dataset():\n    yield np.zeros(3)\n")
    with pytest.raises(InputError, match="rank 4"):
        load_calibration(str(bad), digits_model)
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    with pytest.raises(InputError, match="no get_dataset"):
        load_calibration(str(none), digits_model)


def test_progress_line(monkeypatch):
    import io

    import kerasport.quantize.calibration as calibration

    clock = iter(np.arange(0.0, 100.0, 0.6))
    monkeypatch.setattr(calibration.time, "perf_counter", lambda: float(next(clock)))
    stream = io.StringIO()
    progress = Progress(10, "calibrating", stream=stream)
    for i in range(10):
        progress.update(i + 1)
    progress.done()
    text = stream.getvalue()
    assert "\rcalibrating: 10/10" in text and text.endswith(" s)\n")


# -- MobileNetV2 (slow) -------------------------------------------------------------------
@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    k = keras_module("k3")
    # Logits: with random weights the 1000 softmax probabilities are all about 1e-3, which
    # int8 outputs (scale 1/256) cannot tell apart.
    km = k.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3),
                                    classifier_activation=None)
    randomize(km)
    path = save(km, tmp_path_factory.mktemp("mnv2") / "mnv2.keras")
    x = np.random.default_rng(0).uniform(-1, 1, (16, 96, 96, 3)).astype(np.float32)
    return path, kerasport.load(path), x


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_mobilenet_v2_modes(mobilenet, mode, tmp_path):
    path, model, x = mobilenet
    r = export_tflite(str(path), str(tmp_path / "m.tflite"), model, TFLiteOptions(mode), [x])
    c = r.check
    assert c is not None and c.interpreter == "LiteRT"
    bound = {"none": 1e-5, "float16": 5e-3}.get(mode, 5e-2)  # measured: 1.7e-2 for int8
    assert c.max_error <= bound, c
    assert c.top1_agreement >= (1.0 if mode in ("none", "float16") else 0.9), c
    if mode in ("dynamic", "int8", "uint8"):
        assert r.size <= 0.30 * os.path.getsize(path)
