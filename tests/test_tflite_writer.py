"""kerasport's own TFLite writer (no TensorFlow in the writer) against real Keras.

Every parity model of the suite (tests/test_layers.py, test_vision_layers.py,
test_recurrent.py, test_attention.py, test_activations_new.py, test_designs.py; Keras 3,
.keras) goes through
the writer in float32 and runs in LiteRT on a batch of 3 (one sample at a time when the writer
fixed the batch to 1). Models holding an op without a TFLite form must be refused, naming the
op and its layer, before anything is written.

Tolerances:
  float32: max|LiteRT - Keras| / max(1, max|Keras|) <= 1e-4 (WRITER_TOL);
  float16 (weights): <= 1e-2 relative, same top-1 class;
  dynamic (int8 weights, float activations): mean abs error <= 1e-2 of the output scale.
The full sweep (about 300 models) is marked slow; a representative subset runs always.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import test_activations_new
import test_attention
import test_designs
import test_layers
import test_recurrent
import test_vision_layers
from keras_models import keras_outputs, max_error, random_inputs, randomize, save

import kerasport
from kerasport.cli import main
from kerasport.errors import KerasportError

pytest.importorskip("keras")
pytest.importorskip("flatbuffers")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from kerasport.export.tflite.check import unique_names  # noqa: E402
from kerasport.export.tflite.writer import (  # noqa: E402
    supported_ops,
    unavailable_ops,
    write_tflite,
)

WRITER_TOL = 1e-4
BATCH = 3
SUITES = {"layers": test_layers.CASES, "vision": test_vision_layers.CASES,
          "recurrent": test_recurrent.CASES, "attention": test_attention.CASES,
          "activations": test_activations_new.LAYER_CASES, "designs": test_designs.DESIGNS}
ALL = {f"{suite}/{name}": build for suite, cases in SUITES.items()
       for name, build in cases.items()}
# always run: one or more per family of emitters (the rest run with -m slow)
QUICK = ["layers/Dense-act-relu", "layers/Activation-gelu", "layers/Activation-hard_silu",
         "layers/ReLU-all", "layers/PReLU-shared", "layers/Softmax-axis1",
         "layers/Concatenate-axis1", "layers/Average", "vision/LayerNormalization",
         "layers/Conv2D-same-stride2", "vision/DepthwiseConv2D", "layers/Conv1D-causal",
         "vision/Conv2DTranspose-s2-same", "layers/MaxPooling2D-same",
         "vision/UpSampling2D-bilinear", "layers/GlobalAveragePooling2D",
         "layers/ZeroPadding2D-asym", "layers/Cropping2D", "recurrent/LSTM",
         "recurrent/GRU-reset-before", "recurrent/masked-SimpleRNN", "designs/unet"]


def _run_litert(content: bytes, model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of the file in LiteRT, in the model's output order: the whole batch at once,
    or one sample at a time if the file has a fixed batch of 1."""
    runner = litert.Interpreter(model_content=content).get_signature_runner()
    fixed = list(runner.get_input_details().values())[0]["shape_signature"][0] == 1
    chunks = [slice(i, i + 1) for i in range(len(inputs[0]))] if fixed else [slice(None)]
    names = unique_names(list(model.output_names))
    if not set(names) <= set(runner.get_output_details()):  # TensorFlow's: output_0, ...
        names = [f"output_{i}" for i in range(len(names))]
    outs: list[list[np.ndarray]] = [[] for _ in names]
    for sl in chunks:
        got = runner(**{n: a[sl] for n, a in zip(model.input_names, inputs)})
        for j, name in enumerate(names):
            outs[j].append(np.asarray(got[name]))
    return [np.concatenate(o) for o in outs]


def _keras_case(build, tmp_path):
    import keras

    model = build(keras)
    randomize(model)
    inputs = random_inputs(model, batch=BATCH)
    want = keras_outputs(model, inputs)
    return kerasport.load(save(model, tmp_path / "m.keras")), inputs, want


def check_writer(build, tmp_path, quantize: str = "none", **kw):
    """Write the Keras model through the writer; returns (LiteRT outputs, Keras outputs), or
    None after checking the refusal when an op has no TFLite form."""
    m, inputs, want = _keras_case(build, tmp_path)
    missing = {(n.op, n.layer) for n in m.graph.nodes} - {
        (n.op, n.layer) for n in m.graph.nodes if n.op in set(supported_ops())}
    if missing:
        op, layer = sorted(missing)[0]
        with pytest.raises(KerasportError, match=re.escape(f"{op} (layer '{layer}'")):
            write_tflite(m)
        assert op in unavailable_ops()
        return None
    content = write_tflite(m, quantize=quantize, **kw)
    return _run_litert(content, m, inputs), want


def _float32(case, tmp_path):
    try:
        result = check_writer(ALL[case], tmp_path)
    except KerasportError as exc:
        # a configuration the writer refuses on purpose must say which layer
        assert "layer '" in str(exc), str(exc)
        pytest.skip(f"refused: {exc}")
    if result is not None:
        got, want = result
        err = max_error(got, want)
        assert err <= WRITER_TOL, f"max error {err:.3g} vs Keras"


@pytest.mark.parametrize("case", QUICK)
def test_writer_float32(case, tmp_path):
    _float32(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(ALL) - set(QUICK)))
def test_writer_float32_every_parity_model(case, tmp_path):
    _float32(case, tmp_path)


# -- quantized weights --------------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DIGITS = EXAMPLES / "digits_cnn.keras"
X = EXAMPLES / "digits_test_x.npy"
Y = EXAMPLES / "digits_test_y.npy"


@pytest.fixture(scope="module")
def digits():
    m = kerasport.load(DIGITS)
    x = np.load(X)
    return m, x, m.predict(x)


@pytest.mark.parametrize("mode", ["none", "float16", "dynamic"])
def test_digits_modes(mode, digits):
    m, x, want = digits
    content = write_tflite(m, quantize=mode)
    got = _run_litert(content, m, [x])[0]
    float32_size = len(write_tflite(m))
    err = np.abs(got - want)
    if mode == "none":
        assert max_error([got], [want]) <= WRITER_TOL
    elif mode == "float16":
        assert err.max() <= 1e-2 and len(content) < 0.6 * float32_size
    else:
        assert err.mean() <= 1e-2 and len(content) < 0.4 * float32_size
    assert np.mean(got.argmax(1) == want.argmax(1)) >= 0.99


def _lstm_text(k):
    x = k.Input((12,), dtype="int32", name="tokens")
    h = k.layers.Embedding(50, 8)(x)
    h = k.layers.LSTM(16)(h)
    return k.Model(x, k.layers.Dense(3, activation="softmax")(h))


@pytest.mark.parametrize("mode", ["float16", "dynamic"])
@pytest.mark.parametrize("lstm", ["fused", "unrolled"])
def test_lstm_text_modes(mode, lstm, tmp_path):
    got, want = check_writer(_lstm_text, tmp_path, quantize=mode, lstm=lstm)
    assert np.abs(got[0] - want[0]).mean() <= 1e-2
    assert np.mean(got[0].argmax(1) == want[0].argmax(1)) >= 2 / 3


def test_unrolled_lstm_keeps_a_dynamic_batch(tmp_path):
    m, inputs, _ = _keras_case(_lstm_text, tmp_path)
    notes: list[str] = []
    fused = write_tflite(m, notes=notes)
    assert notes and "batch fixed to 1" in notes[0]
    unrolled = write_tflite(m, lstm="unrolled")
    sig = {name: litert.Interpreter(model_content=c).get_signature_runner()
           .get_input_details()["tokens"]["shape_signature"][0]
           for name, c in (("fused", fused), ("unrolled", unrolled))}
    assert sig == {"fused": 1, "unrolled": -1}


# -- the command line and bad input -----------------------------------------------------------
def test_cli_uses_the_writer_without_tensorflow(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` fails
    out = tmp_path / "d.tflite"
    code = main(["convert", str(DIGITS), "--to", "tflite", "-o", str(out), "--quantize",
                 "dynamic", "--calibration", str(X), "--labels", str(Y)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "kerasport's writer" in text and "accuracy" in text and out.exists()


def test_bundle_source_converts(tmp_path, capsys):
    bundle = tmp_path / "d.npz"
    kerasport.load(DIGITS).save(str(bundle))
    out = tmp_path / "d.tflite"
    assert main(["convert", str(bundle), "--to", "tflite", "-o", str(out)]) == 0
    assert "max error" in capsys.readouterr().out and out.exists()


def _unmappable_model(k):
    x = k.Input((4, 6))
    return k.Model(x, k.layers.ConvLSTM1D(2, 3)(k.layers.Reshape((4, 6, 1))(x)))


def test_unmappable_op_refused_nothing_written(tmp_path, capsys):
    import keras

    model = _unmappable_model(keras)
    path = save(model, tmp_path / "e.keras")
    out = tmp_path / "e.tflite"
    code = main(["convert", str(path), "--to", "tflite", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "ConvLSTM (layer 'conv_lstm1d" in err and "no TFLite form" in err
    assert not out.exists() and not list(tmp_path.glob(".kerasport-*"))


def test_litert_missing_still_writes(tmp_path, monkeypatch):
    from kerasport.export.tflite.native import export_tflite_native

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    out = tmp_path / "d.tflite"
    report = export_tflite_native(str(out), kerasport.load(DIGITS))
    assert out.exists() and report.check is None
    assert "kerasport[tflite]" in report.note and "not checked" in report.note


# -- against TensorFlow's converter (opt-in: -m slow, needs TensorFlow) ------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["none", "float16", "dynamic"])
def test_same_outputs_as_tensorflows_converter(mode, digits):
    """The two converters' files agree on the 450 digits (float32: 1e-5 of the output scale;
    float16: 1e-3; dynamic: same top-1 class on 99%), and kerasport's is no larger."""
    pytest.importorskip("tensorflow")
    from kerasport.export.tflite.options import TFLiteOptions
    from kerasport.export.tflite.worker import convert_keras_file

    m, x, _ = digits
    ours = write_tflite(m, quantize=mode)
    theirs = convert_keras_file(str(DIGITS), m, TFLiteOptions(quantize=mode), None)
    a, b = _run_litert(ours, m, [x])[0], _run_litert(theirs, m, [x])[0]
    assert len(ours) <= len(theirs)
    if mode == "dynamic":
        assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.99
    else:
        assert max_error([a], [b]) <= (1e-5 if mode == "none" else 1e-3)


def _padded_downsampling(k):
    x = k.Input((9, 10, 3))
    h = k.layers.ZeroPadding2D(((1, 1), (0, 1)))(x)  # TensorFlow's 'same' pads for 9 / 10
    h = k.layers.Conv2D(4, 3, strides=2)(h)
    h = k.layers.ZeroPadding2D(((1, 1), (1, 1)))(h)  # 'same' pads for 5, stride 2
    h = k.layers.DepthwiseConv2D(3, strides=2)(h)
    h = k.layers.ZeroPadding2D(((1, 1), (1, 1)))(h)  # not 'same' for stride 1 + 2x2: kept
    return k.Model(x, k.layers.Conv2D(2, 2)(h))


def test_zero_pads_fold_into_same_convolutions(tmp_path):
    from kerasport.export.tflite.writer import build

    got, want = check_writer(_padded_downsampling, tmp_path)
    assert max_error(got, want) <= WRITER_TOL
    m = kerasport.load(tmp_path / "m.keras")
    codes = [o.code for o in build(m)[0].operators]
    assert codes.count("PAD") == 1, codes


def test_batch_file_chooses_the_converter(tmp_path, capsys):
    import json

    config = tmp_path / "tasks.json"
    config.write_text(json.dumps({"tasks": [
        {"convert_from": str(DIGITS), "convert_to": "tflite", "output": "d16.tflite",
         "quantization": {"mode": "float16"},
         "options": {"converter": "kerasport", "tflite_lstm": "unrolled"}}]}))
    assert main(["batch", str(config)]) == 0, capsys.readouterr().out
    assert (tmp_path / "d16.tflite").exists()
