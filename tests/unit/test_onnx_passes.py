"""The ONNX export's passes (export/onnx/passes.py) on IR graphs built without Keras.

- pair_bidirectional is a rewrite: before == after in the NumPy runtime (exactly: the same
  kernels on the same inputs), and the halves end up adjacent.
- bidirectional_pairs, time_major_values and compacted_masks decide the ONNX form: checked on
  the graphs they plan, and the exported model run in ONNX Runtime (when installed) agrees
  with the NumPy runtime (rtol 1e-4, atol 1e-5 on float32).
"""

from __future__ import annotations

import numpy as np
import pytest

from kerasport.export.onnx.passes import (
    bidirectional_pairs,
    compacted_masks,
    pair_bidirectional,
    plan_export,
    time_major_values,
)
from kerasport.ir.builder import Builder
from kerasport.ir.graph import Graph
from kerasport.model import Model
from kerasport.runtime.executor import Executor

RNG = np.random.default_rng(1313)
N, T, V, E, U = 3, 6, 11, 4, 5


def _lstm(b: Builder, x: str, mask: str, name: str, backwards: bool, h0: str = "",
          c0: str = "", activation: dict | None = None) -> str:
    w = [b.const(f"{name}/{k}", RNG.standard_normal(s) * 0.5) for k, s in (
        ("kernel", (E, 4 * U)), ("recurrent", (U, 4 * U)), ("bias", (4 * U,)))]
    attrs = {"return_sequences": True, "go_backwards": backwards}
    if activation is not None:
        attrs["activation"] = activation
    outs = b.op("LSTM", [x, *w, h0, c0, mask], name, attrs, layer="bi", n_out=3)
    return outs[0]


def _bidirectional(between: bool = False, state_after: bool = False,
                   activation: dict | None = None) -> Graph:
    """Embedding (Gather) + mask of the token ids + Bidirectional LSTM (forward, backward,
    Reverse, Concat) + Dense. ``between``: an unrelated op between the two halves;
    ``state_after``: the backward half's initial state is made after the forward half."""
    b = Builder()
    ids = b.input("ids", (None, T), "int32")
    table = b.const("table", RNG.standard_normal((V, E)))
    emb = b.op("Gather", [table, ids], "emb", {})
    mask = b.op("MaskNotEqual", [ids], "mask", {"value": 0.0})
    h0 = c0 = ""
    if state_after:  # both halves have initial states: the forward one's made before it
        mean = b.op("MaskedMean", [emb, mask], "fw_mean", {})
        h0 = c0 = b.op("Dense", [mean, b.const("fw_h", RNG.standard_normal((E, U)))], "fw_h0",
                       {})
    fw = _lstm(b, emb, mask, "fw", False, h0, c0, activation=activation)
    side = None
    if between or state_after:
        side = b.op("Tanh", [b.op("MaskedMean", [emb, mask], "mean", {})], "side", {})
    if state_after:
        h0 = b.op("Dense", [side, b.const("to_h", RNG.standard_normal((E, U)))], "h0", {})
        c0 = b.op("Tanh", [h0], "c0", {})
    bw = _lstm(b, emb, mask, "bw", True, h0, c0, activation=activation)
    seq = b.op("Concat", [fw, b.op("Reverse", [bw], "bw_rev", {"axis": 1})], "seq",
               {"axis": -1})
    y = b.op("Dense", [seq, b.const("dense", RNG.standard_normal((2 * U, 2)))], "y", {})
    outputs = [y] + ([side] if side else [])
    return b.finish([ids], outputs, "single", "list" if side else "single", "bi",
                    outputs)


def _ids() -> np.ndarray:
    ids = RNG.integers(1, V, (N, T)).astype(np.int32)
    ids[0, 4:] = 0  # right padding
    ids[1, 1:3] = 0  # a hole
    return ids


def _index(graph: Graph, output: str) -> int:
    return next(i for i, n in enumerate(graph.nodes) if n.outputs[0] == output)


def test_pair_bidirectional_moves_the_backward_half_and_keeps_outputs():
    graph = _bidirectional(between=True)
    assert _index(graph, "bw") != _index(graph, "fw") + 1
    paired = pair_bidirectional(graph)
    assert _index(paired, "bw") == _index(paired, "fw") + 1
    assert sorted(n.outputs for n in paired.nodes) == sorted(n.outputs for n in graph.nodes)
    x = [_ids()]
    for before, after in zip(Executor(graph).run(x), Executor(paired).run(x)):
        np.testing.assert_array_equal(before, after)
    assert list(bidirectional_pairs(paired)) == ["fw"]
    assert bidirectional_pairs(paired)["fw"].outputs[0] == "bw"


def test_backward_half_whose_state_comes_later_stays_alone():
    graph = _bidirectional(state_after=True)
    paired = pair_bidirectional(graph)
    assert paired.nodes == graph.nodes
    assert bidirectional_pairs(paired) == {}


def test_time_major_values_reach_the_recurrent_ops():
    graph = _bidirectional()
    wanted = time_major_values(graph)
    # the LSTM's sequence and mask, and what they are made from through Gather/MaskNotEqual
    assert {"emb", "mask", "ids"} <= wanted
    assert not {"fw", "bw", "seq", "y"} & wanted


def test_compacted_masks_only_for_native_recurrent_ops():
    assert compacted_masks(_bidirectional()) == {"mask": ("fw", "bw")}
    selu = {"op": "Selu"}  # no native ONNX recurrent form: a Scan reads the mask as it is
    assert compacted_masks(_bidirectional(activation=selu)) == {}


def test_plan_export_collects_the_decisions():
    graph, plan = plan_export(_bidirectional(between=True))
    assert set(plan.partners) == {"fw"} and plan.backward_halves == {"bw"}
    assert "emb" in plan.time_major and set(plan.compacted) == {"mask"}


@pytest.mark.parametrize("case", ["plain", "between", "state_after", "scan"])
def test_onnx_runtime_agrees_with_numpy(case):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from kerasport.export.onnx import to_onnx

    graph = _bidirectional(between=case == "between", state_after=case == "state_after",
                           activation={"op": "Selu"} if case == "scan" else None)
    x = _ids()
    proto = to_onnx(Model(graph))
    ops = [n.op_type for n in proto.graph.node]
    if case in ("plain", "between"):
        lstm = [n for n in proto.graph.node if n.op_type == "LSTM"]
        assert len(lstm) == 1 and any(a.s == b"bidirectional" for a in lstm[0].attribute)
    if case == "state_after":
        assert ops.count("LSTM") == 2
    if case == "scan":
        assert "Scan" in ops and "LSTM" not in ops
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    want = Executor(graph).run([x])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
