"""LSTMs written by kerasport's TFLite writer as a WHILE loop (the default ``--tflite-lstm
loop``), against real Keras 3 in LiteRT: randomised weights, a batch of 3 run one sample at a
time (the loop's batch is fixed to 1).

Tolerances (as tests/test_tflite_writer.py): float32 max|LiteRT - Keras| / max(1, max|Keras|)
<= 1e-4; float16 and dynamic: mean abs error <= 1e-2 and 2 of 3 top-1 classes.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("flatbuffers")
pytest.importorskip("ai_edge_litert.interpreter")

from keras_models import max_error  # noqa: E402
from test_tflite_writer import WRITER_TOL, _keras_case, _run_litert  # noqa: E402

from kerasport.export.tflite.writer import write_tflite  # noqa: E402


def _ops(content: bytes) -> list[list[str]]:
    """The builtin operator names of every subgraph of a .tflite file."""
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(content, 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    codes = [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in model.operatorCodes]
    return [[codes[op.opcodeIndex] for op in g.operators] for g in model.subgraphs]


def _text(lstm_kw):
    def build(k):
        x = k.Input((12,), dtype="int32", name="tokens")
        h = k.layers.Embedding(50, 8)(x)
        h = k.layers.LSTM(16, **lstm_kw)(h)
        return k.Model(x, k.layers.Dense(3, activation="softmax")(h))
    return build


def _stacked(k):
    x = k.Input((7, 5), name="seq")
    h = k.layers.LSTM(6, return_sequences=True)(x)
    h = k.layers.LSTM(4)(h)
    return k.Model(x, k.layers.Dense(2)(h))


def _free_length(k):
    x = k.Input((None, 5), name="seq")
    return k.Model(x, k.layers.Dense(2)(k.layers.LSTM(4)(x)))


CASES = {"plain": _text({}), "go_backwards": _text({"go_backwards": True}),
         "no_bias": _text({"use_bias": False}), "forget_bias": _text(
             {"unit_forget_bias": False}), "stacked": _stacked}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loop_float32_matches_keras(case, tmp_path):
    m, inputs, want = _keras_case(CASES[case], tmp_path)
    content = write_tflite(m)  # the default form
    ops = _ops(content)
    assert len(ops) == 3 and "WHILE" in ops[0], ops
    assert ops[2].count("FULLY_CONNECTED") == 1  # one recurrent product per step
    # an LSTM returning sequences stays UNIDIRECTIONAL_SEQUENCE_LSTM
    assert ("UNIDIRECTIONAL_SEQUENCE_LSTM" in ops[0]) == (case == "stacked")
    err = max_error(_run_litert(content, m, inputs), want)
    assert err <= WRITER_TOL, f"max error {err:.3g} vs Keras"


@pytest.mark.parametrize("mode", ["float16", "dynamic"])
def test_loop_quantized_weights(mode, tmp_path):
    m, inputs, want = _keras_case(CASES["plain"], tmp_path)
    content = write_tflite(m, quantize=mode, lstm="loop")
    body = _ops(content)[2]
    assert ("DEQUANTIZE" in body) == (mode == "float16")
    got = _run_litert(content, m, inputs)
    assert np.abs(got[0] - want[0]).mean() <= 1e-2
    assert np.mean(got[0].argmax(1) == want[0].argmax(1)) >= 2 / 3


def test_free_sequence_length_stays_fused(tmp_path):
    """The loop needs the number of steps; a free length keeps the fused op."""
    m, inputs, want = _keras_case(_free_length, tmp_path)
    content = write_tflite(m)
    assert len(_ops(content)) == 1
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in _ops(content)[0]
    assert max_error(_run_litert(content, m, inputs), want) <= WRITER_TOL


def test_fused_form_still_available(tmp_path):
    m, inputs, want = _keras_case(CASES["plain"], tmp_path)
    content = write_tflite(m, lstm="fused")
    assert len(_ops(content)) == 1 and "UNIDIRECTIONAL_SEQUENCE_LSTM" in _ops(content)[0]
    assert max_error(_run_litert(content, m, inputs), want) <= WRITER_TOL
