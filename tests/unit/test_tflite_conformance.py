"""Every IR op has a TFLite form in kerasport's writer or a stated reason, and each op's
example (op_cases.py) written by the writer computes in LiteRT what the kernel computes.

No TensorFlow: the writer needs flatbuffers and ai-edge-litert's schema bindings, the check
LiteRT. Tolerance per case as for ONNX Runtime (default rtol 1e-4, atol 1e-5, float32).
"""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import Case, all_cases
from test_ops_conformance import _case_id, _graph

from kerasport.errors import KerasportError
from kerasport.model import Model
from kerasport.ops import all_ops
from kerasport.runtime.executor import Executor

pytest.importorskip("flatbuffers")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from kerasport.export.tflite.writer import (  # noqa: E402
    supported_ops,
    unavailable_ops,
    write_tflite,
)

CASES = all_cases()
# cases whose configuration the writer refuses by design (the op itself has a form): id -> why
REFUSED: dict[str, str] = {}


@pytest.mark.parametrize("name", all_ops())
def test_op_has_tflite_form_or_reason(name):
    emitted, unavailable = set(supported_ops()), unavailable_ops()
    assert (name in emitted) != (name in unavailable), (
        f"{name}: needs a TFLite emitter or an unavailable({name!r}, reason) entry, not both")
    if name in unavailable:
        assert len(unavailable[name]) > 20, "say why"


def _run(content: bytes, graph, feeds: list[np.ndarray]) -> list[np.ndarray]:
    runner = litert.Interpreter(model_content=content).get_signature_runner()
    got = runner(**dict(zip(graph.inputs, feeds)))
    return [got[name] for name in graph.output_names]


TFLITE_CASES = [c for c in CASES if c.op in set(supported_ops())]


@pytest.mark.parametrize("case", TFLITE_CASES, ids=_case_id)
def test_litert_agrees(case: Case):
    graph, feeds = _graph(case)
    if _case_id(case) in REFUSED:
        with pytest.raises(KerasportError):
            write_tflite(Model(graph))
        return
    content = write_tflite(Model(graph))
    got = _run(content, graph, feeds)
    want = Executor(graph).run(feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64),
                                   rtol=case.rtol, atol=case.atol)


def test_unavailable_op_is_refused_with_its_layer():
    case = next(c for c in CASES if c.op in unavailable_ops())
    graph, _ = _graph(case)
    with pytest.raises(KerasportError, match=f"{case.op} \\(layer 'case'"):
        write_tflite(Model(graph))


def _unmasked(op: str) -> Case:
    """The op's case without its mask: LSTM then takes UNIDIRECTIONAL_SEQUENCE_LSTM."""
    from op_cases import In

    from kerasport.ops import get_op

    base = next(c for c in CASES if c.op == op)
    at = get_op(op).traits.mask_input
    inputs = tuple(In(None) if i == at else inp for i, inp in enumerate(base.inputs))
    return Case(op, inputs, base.attrs, 1, base.rtol, base.atol, "unmasked")


@pytest.mark.parametrize("lstm", ["fused", "unrolled"])
@pytest.mark.parametrize("op", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_forms_agree(op, lstm):
    from kerasport.export.tflite.writer import build

    graph, feeds = _graph(_unmasked(op))
    ctx, _, _ = build(Model(graph), len(feeds[0]), lstm)
    fused = "UNIDIRECTIONAL_SEQUENCE_LSTM" in {o.code for o in ctx.operators}
    assert fused == (op == "LSTM" and lstm == "fused")
    content = write_tflite(Model(graph), lstm=lstm, batch_size=len(feeds[0]))
    want = Executor(graph).run(feeds)[0]  # one output kept: the kernel's tuple, sequence first
    np.testing.assert_allclose(_run(content, graph, feeds)[0], want[0], rtol=1e-4, atol=1e-5)
