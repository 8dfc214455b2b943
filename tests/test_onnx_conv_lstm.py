"""ONNX export of ConvLSTM (one Scan over time), beyond the parity tests (they run every
ConvLSTM model of test_recurrent.py in ONNX Runtime): masks, go_backwards, initial states,
zero_output_for_mask, every activation the kernel knows, free time and spatial sizes (one export
run at several sizes), opsets 13 / 17 / newest, Keras 2 and Keras 3 files with an initial state.
Tolerance: keras_models.ONNX_TOL (1e-5 of the output scale)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from keras_models import ONNX_TOL, check_parity, max_error

from kerasport.export.onnx import to_onnx
from kerasport.ir.builder import Builder
from kerasport.keras.activation_table import upgrade_recurrent_attrs
from kerasport.model import Model, as_list

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

NEWEST = onnx.defs.onnx_opset_version()


def run(proto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), inputs)})


def conv_lstm_model(rank: int, spatial: tuple, steps: int | None, ksize: int = 3,
                    filters: int = 3, channels: int = 2, bias: bool = True,
                    states: bool = False, mask: bool = False, **attrs) -> Model:
    """A Model of one ConvLSTM op (outputs y, h, c) with random weights."""
    rng = np.random.default_rng(rank + ksize)
    b = Builder()
    x = b.input("x", (None, steps, *spatial, channels), "float32")
    ins = [x]
    k = (ksize,) * rank
    args = [x,
            b.const("kernel", rng.standard_normal((*k, channels, 4 * filters)) * 0.3),
            b.const("recurrent_kernel", rng.standard_normal((*k, filters, 4 * filters)) * 0.3),
            b.const("bias", rng.standard_normal(4 * filters) * 0.3) if bias else ""]
    if states:
        # the state shape (the output's), from a Conv-like shape rule: 'same' keeps sizes
        out = tuple(None if s is None else s for s in spatial)
        for name in ("h0", "c0"):
            ins.append(b.input(name, (None, *out, filters), "float32"))
        args += ins[1:3]
    else:
        args += ["", ""]
    if mask:
        ins.append(b.input("mask", (None, steps), "float32"))
        args.append(ins[-1])
    # as the converter: Keras activation names (and keras_major) resolved into IR specs
    attrs = upgrade_recurrent_attrs({"strides": [1] * rank, "dilations": [1] * rank, **attrs})
    y = b.op("ConvLSTM", args, "conv_lstm", attrs, n_out=3)
    return Model(b.finish(ins, list(y), "list" if len(ins) > 1 else "single", "list",
                          "conv_lstm", ["y", "h", "c"]))


def inputs_for(m: Model, batch: int, steps: int, spatial: tuple, seed: int) -> list[np.ndarray]:
    """Random inputs; masks mask about a third of the steps (a fully masked first item)."""
    rng = np.random.default_rng(seed)
    out = []
    for name in m.graph.inputs:
        shape = m.graph.values[name].shape
        if name == "mask":
            mask = (rng.random((batch, steps)) > 0.35).astype(np.float32)
            mask[0] = 0.0
            out.append(mask)
            continue
        dims = [batch]
        for i, d in enumerate(shape[1:]):
            if d is not None:
                dims.append(d)
            elif name == "x" and i == 0:
                dims.append(steps)
            else:
                dims.append(spatial[i - 1 if name == "x" else i])
        out.append(rng.standard_normal(dims).astype(np.float32))
    return out


def check(m: Model, sizes: list[tuple[int, int, tuple]], opset: int = 17) -> float:
    proto = to_onnx(m, opset=opset)
    assert Counter(n.op_type for n in proto.graph.node)["Scan"] == 1
    worst = 0.0
    for seed, (batch, steps, spatial) in enumerate(sizes):
        xs = inputs_for(m, batch, steps, spatial, seed)
        want = as_list(m.predict(xs if len(xs) > 1 else xs[0], batch_size=batch))
        err = max_error([np.asarray(y) for y in run(proto, xs)], want)
        assert err <= ONNX_TOL, (batch, steps, spatial, err)
        worst = max(worst, err)
    return worst


CASES = {
    "1d-valid": (1, (9,), {}),
    "1d-same-sequences": (1, (9,), {"padding": "same", "return_sequences": True}),
    "2d-strides-dilations": (2, (9, 8), {"strides": [2, 1], "dilations": [1, 2]}),
    "2d-same-backwards": (2, (6, 5), {"padding": "same", "go_backwards": True,
                                      "return_sequences": True}),
    "2d-masked": (2, (6, 5), {"padding": "same", "return_sequences": True, "mask": True}),
    "2d-masked-backwards-zero": (2, (6, 5), {"padding": "same", "return_sequences": True,
                                             "go_backwards": True, "mask": True,
                                             "zero_output_for_mask": True}),
    "2d-states": (2, (6, 5), {"padding": "same", "states": True}),
    "2d-nobias-relu-k2": (2, (6, 5), {"bias": False, "activation": "relu",
                                      "recurrent_activation": "hard_sigmoid",
                                      "keras_major": 2}),
    "2d-hard-sigmoid-k3": (2, (6, 5), {"recurrent_activation": "hard_sigmoid"}),
    "3d-same": (3, (4, 4, 3), {"padding": "same", "ksize": 2}),
}
ACTIVATIONS = ["linear", "elu", "selu", "silu", "hard_silu", "softplus", "softsign", "gelu"]


def _build(case: str, steps: int | None, free_spatial: bool = False) -> tuple[Model, tuple]:
    rank, spatial, attrs = CASES[case]
    kw = dict(attrs)
    options = {key: kw.pop(key) for key in ("bias", "states", "mask", "ksize") if key in kw}
    ir_spatial = (None,) * rank if free_spatial else spatial
    return conv_lstm_model(rank, ir_spatial, steps, **options, **kw), spatial


@pytest.mark.parametrize("opset", [13, 17, NEWEST])
@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_lstm(case, opset):
    """Static sizes: one run; free time axis: several lengths, one export."""
    m, spatial = _build(case, 4)
    check(m, [(3, 4, spatial)], opset)
    m, spatial = _build(case, None)
    check(m, [(2, 1, spatial), (3, 5, spatial)], opset)


@pytest.mark.parametrize("case", ["1d-same-sequences", "2d-same-backwards", "2d-states",
                                  "2d-masked"])
def test_free_spatial_sizes(case):
    """Free spatial sizes ('same' padding as SAME_UPPER, TensorFlow's rule)."""
    m, spatial = _build(case, None, free_spatial=True)
    other = tuple(s + 3 for s in spatial)
    check(m, [(2, 3, spatial), (1, 2, other)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations(name):
    m = conv_lstm_model(1, (7,), None, activation=name, recurrent_activation=name,
                        return_sequences=True)
    check(m, [(2, 3, (7,))])


def conv_lstm_with_state(k):
    """ConvLSTM2D whose initial state is computed by another ConvLSTM2D (return_state)."""
    inp = k.Input((4, 6, 5, 2))
    _, h, c = k.layers.ConvLSTM2D(3, 3, padding="same", return_state=True)(inp)
    y = k.layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True,
                            go_backwards=True)(inp, initial_state=[h, c])
    return k.Model(inp, y)


@pytest.mark.parametrize("flavour", ["k3", "k2"])
def test_keras_initial_state(flavour, tmp_path):
    """Parity with Keras, then ONNX Runtime against the runtime (inside check_parity)."""
    check_parity(conv_lstm_with_state, flavour, "keras", tmp_path, standalone=False)
