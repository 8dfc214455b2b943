"""ONNX export of the attention ops (MatMul, Einsum, MaskedSoftmax), beyond what the parity tests
check (they run every model of test_attention.py in ONNX Runtime at opset 17): every attribute
combination of MaskedSoftmax on small IR graphs (masks of every dtype and rank, causal and
window bands of static and free sizes, several softmax axes), opsets 13 / 17 / newest, dynamic
batch and free sequence length (one export run at several lengths), a sequence held time-major
by an LSTM meeting attention, and onnx.checker's full check of a transformer written to a file.
Tolerance: keras_models.ONNX_TOL (1e-5 of the output scale)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from keras_models import (
    ONNX_TOL,
    check_onnx,
    check_parity,
    keras_module,
    max_error,
    random_inputs,
    randomize,
)
from keras_models import save as save_model
from test_attention import CASES, decoder_only, transformer_classifier

import kerasport
from kerasport.export.onnx import export_onnx, to_onnx
from kerasport.export.onnx.attention import band_array, expanded_axes
from kerasport.ir.builder import Builder
from kerasport.model import Model, as_list

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

NEWEST = onnx.defs.onnx_opset_version()
OPSETS = [13, 17, NEWEST]
DPA_FILL = 3.38953e38 * -0.7  # Keras 3's dot_product_attention fill (converters use it)


def run(proto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), inputs)})


def expect(m, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return as_list(m.predict(inputs if len(inputs) > 1 else inputs[0], batch_size=len(
        inputs[0])))


def ops(proto) -> Counter:
    return Counter(n.op_type for n in proto.graph.node)


# -- IR graphs of one op ------------------------------------------------------------------------
def one_op(op: str, shapes: list[tuple], dtypes: list[str], **attrs) -> Model:
    """A Model of one IR op whose inputs are graph inputs (shapes without the batch axis)."""
    b = Builder()
    ins = [b.input(f"in{i}", (None, *s), d) for i, (s, d) in enumerate(zip(shapes, dtypes))]
    y = b.op(op, ins, "out", attrs)
    return Model(b.finish(ins, [y], "list" if len(ins) > 1 else "single", "single", op,
                          ["out"]))


def masked_softmax(x_shape: tuple, mask_shape: tuple | None, mask_dtype: str = "float32",
                   **attrs) -> Model:
    """A Model of one MaskedSoftmax (with an absent mask when ``mask_shape`` is None)."""
    b = Builder()
    x = b.input("scores", (None, *x_shape), "float32")
    ins = [x]
    mask = ""
    if mask_shape is not None:
        mask = b.input("mask", (None, *mask_shape), mask_dtype)
        ins.append(mask)
    y = b.op("MaskedSoftmax", [x, mask], "probs", attrs)
    return Model(b.finish(ins, [y], "list" if len(ins) > 1 else "single", "single",
                          "masked_softmax", ["probs"]))


def random_mask(rng, shape: tuple, dtype: str, values: tuple = (0, 1)) -> np.ndarray:
    """A mask of ``values`` whose first row of every batch item is fully masked."""
    m = rng.choice(np.asarray(values, np.float32), size=shape)
    m[0] = 0.0  # a fully masked batch item: uniform (or zeroed) probabilities
    return m.astype(dtype)


def sized(shape: tuple, sizes: dict) -> tuple:
    """``shape`` with free dims named by position replaced: sizes = {axis: size}."""
    return tuple(sizes.get(i, d) for i, d in enumerate(shape))


# (scores shape, mask shape or None, mask dtype, mask values, attributes). Free dims (None) are
# the T and S of the scores; masks say which of their axes follow them with "T"/"S".
SOFTMAX_CASES = {
    "plain": ((2, 4, 5), None, "float32", (0, 1), {}),
    "k3-explicit-mask": ((2, 4, 5), (4, 5), "float32", (0, 1),
                         {"fill": -1e9, "zero_masked": True}),
    "k3-dpa-mask": ((2, 4, 5), (4, 5), "float32", (0, 1), {"fill": DPA_FILL}),
    "k3-dpa-key-mask": ((2, 4, 5), (1, 5), "float32", (0, 1), {"fill": DPA_FILL}),
    "k3-dpa-causal": ((2, "T", "T"), None, "float32", (0, 1),
                      {"fill": DPA_FILL, "causal": True}),
    "k3-dpa-causal-window": ((2, "T", "T"), None, "float32", (0, 1),
                             {"fill": DPA_FILL, "causal": True, "window": 2}),
    "k3-window-only": ((2, 6, 6), None, "float32", (0, 1), {"fill": DPA_FILL, "window": 3}),
    "k3-causal-cross-static": ((2, 5, 7), None, "float32", (0, 1),
                               {"fill": DPA_FILL, "causal": True}),
    "k3-mask-causal-zero": ((2, "T", "S"), ("T", "S"), "float32", (0, 1),
                            {"fill": -1e9, "causal": True, "zero_masked": True}),
    "k3-window-mask-zero": ((3, "T", "T"), ("T", "T"), "float32", (0, 1),
                            {"fill": -1e9, "window": 2, "causal": True, "zero_masked": True}),
    "k2-additive-mask": ((2, 4, "S"), (1, "S"), "float32", (0, 1),
                         {"fill": -1e9, "additive": True}),
    "k2-additive-causal": ((2, "T", "S"), None, "float32", (0, 1),
                           {"fill": -1e9, "additive": True, "causal": True}),
    "k2-additive-mask-causal": ((2, "T", "T"), ("T", "T"), "float32", (0, 1),
                                {"fill": -1e9, "additive": True, "causal": True}),
    "k2-additive-non-binary": ((2, 4, 5), (4, 5), "float32", (0, 1, 0.5, 3),
                               {"fill": -1e9, "additive": True, "window": 2}),
    "int-mask": ((2, 4, 5), (4, 5), "int32", (0, 1, 2), {"fill": -1e9, "zero_masked": True}),
    "bool-mask": ((2, 4, 5), (1, 5), "bool", (0, 1), {"fill": -1e9, "zero_masked": True}),
    "rank5-expand-back": ((2, 3, "T", "T"), (2, "T", "T"), "float32", (0, 1),
                          {"fill": -1e9, "causal": True, "expand_axis": -3,
                           "zero_masked": True}),
    "two-axes-trailing": ((2, 3, 4, 2, 5), (3, 4, 2, 5), "float32", (0, 1),
                          {"axes": [-2, -1], "expand_axis": -5, "fill": -1e9,
                           "zero_masked": True}),
    "two-axes-additive": ((3, 4, "T", "S"), (3, 4, "T", "S"), "float32", (0, 1),
                          {"axes": [-2, -1], "fill": -1e9, "additive": True}),
    "axes-not-trailing": ((3, 4, 5), (3, 4, 5), "float32", (0, 1),
                          {"axes": [1, 3], "fill": -1e9, "zero_masked": True}),
    "large-band-not-constant": ((1, 300, 300), None, "float32", (0, 1),
                                {"fill": DPA_FILL, "causal": True, "window": 7}),
}


def _softmax_case(case: str, lengths: dict) -> tuple[Model, list[np.ndarray]]:
    x_shape, mask_shape, dtype, values, attrs = SOFTMAX_CASES[case]
    free = {"T": None, "S": None}
    ir_x = tuple(free.get(d, d) for d in x_shape)
    ir_mask = None if mask_shape is None else tuple(free.get(d, d) for d in mask_shape)
    m = masked_softmax(ir_x, ir_mask, dtype, **attrs)
    rng = np.random.default_rng(len(case) + lengths["T"])
    size = {"T": lengths["T"], "S": lengths["S"]}
    x = rng.standard_normal((3, *[size.get(d, d) for d in x_shape])).astype(np.float32)
    inputs = [x]
    if mask_shape is not None:
        inputs.append(random_mask(rng, (3, *[size.get(d, d) for d in mask_shape]), dtype,
                                  values))
    return m, inputs


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("case", sorted(SOFTMAX_CASES))
def test_masked_softmax(case, opset):
    """One export per case runs at two sequence lengths (T, S) and gives the kernel's output."""
    m, _ = _softmax_case(case, {"T": 4, "S": 5})
    proto = to_onnx(m, opset=opset)
    for lengths in ({"T": 4, "S": 5}, {"T": 7, "S": 3}, {"T": 1, "S": 1}):
        if any(d is None for d in m.graph.values["scores"].shape[1:]) or lengths["T"] == 4:
            _, inputs = _softmax_case(case, lengths)
            want = expect(m, inputs)
            err = max_error([np.asarray(y) for y in run(proto, inputs)], want)
            assert err <= ONNX_TOL, (lengths, err)


def test_band_is_constant_only_when_small():
    """Known small T, S: the band is an initializer; free sizes: built from Shape/Range."""
    static = to_onnx(masked_softmax((2, 5, 7), None, causal=True, window=2))
    assert "Range" not in ops(static) and "Trilu" not in ops(static)
    free = to_onnx(masked_softmax((2, None, None), None, causal=True, window=2))
    assert ops(free)["Range"] == 2
    np.testing.assert_array_equal(band_array(3, 4, True, 0), np.tri(3, 4, dtype=bool))
    np.testing.assert_array_equal(band_array(4, 4, False, 2), np.abs(
        np.subtract.outer(np.arange(4), np.arange(4))) < 2)


@pytest.mark.parametrize(("mask_rank", "rank", "axis"), [(3, 4, 1), (2, 4, 1), (4, 5, -3),
                                                           (4, 6, -5), (3, 3, 1), (2, 5, -1)])
def test_expanded_axes_follow_numpy(mask_rank, rank, axis):
    """Unsqueeze axes put the new axes where repeated np.expand_dims does."""
    a = np.zeros(tuple(range(2, 2 + mask_rank)))
    b = a
    while b.ndim < rank:
        b = np.expand_dims(b, axis)
    assert [i for i, d in enumerate(b.shape) if d == 1] == expanded_axes(mask_rank, rank, axis)


# -- MatMul, Einsum ------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize(("a", "b", "transpose_b"), [
    ((2, 5, 4), (2, 7, 4), True),          # scores: (N, h, T, d) @ (N, h, S, d)^T
    ((2, 5, 7), (2, 7, 3), False),         # probs @ values
    ((5, 4), (7, 4), True),                # rank 3, Attention's q @ k^T
    ((1, 5, 4), (3, 4, 6), False),         # leading axes broadcast
])
def test_matmul(a, b, transpose_b, opset):
    m = one_op("MatMul", [a, b], ["float32", "float32"], transpose_b=transpose_b)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((3, *s)).astype(np.float32) for s in (a, b)]
    assert max_error(run(to_onnx(m, opset=opset), xs), expect(m, xs)) <= ONNX_TOL


def test_matmul_transposes_a_constant_once():
    """A constant right operand is stored transposed: no Transpose node."""
    b = Builder()
    x = b.input("x", (None, 5, 4), "float32")
    w = b.const("w", np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    y = b.op("MatMul", [x, w], "out", {"transpose_b": True})
    m = Model(b.finish([x], [y], "single", "single", "matmul", ["out"]))
    proto = to_onnx(m)
    assert "Transpose" not in ops(proto)
    xs = [np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)]
    assert max_error(run(proto, xs), expect(m, xs)) <= ONNX_TOL


@pytest.mark.parametrize("reuse", ["both-operands", "second-reader", "graph-output", "once"])
def test_matmul_folds_transpose_only_when_safe(reuse):
    """The swap of k in q @ k^T is folded into the Transpose that made k only when nothing
    else reads k (q @ q^T, another reader or a graph output keep it)."""
    b = Builder()
    x = b.input("x", (None, 5, 2, 3), "float32")
    y = b.input("y", (None, 5, 2, 3), "float32")
    kt = b.op("Transpose", [x], "k", {"perm": [0, 2, 1, 3]})
    q = kt if reuse == "both-operands" else b.op("Transpose", [y], "q", {"perm": [0, 2, 1, 3]})
    outs = [b.op("MatMul", [q, kt], "scores", {"transpose_b": True})]
    if reuse == "second-reader":
        outs.append(b.op("Add", [kt, kt], "twice", {}))
    elif reuse == "graph-output":
        outs.append(kt)
    m = Model(b.finish([x, y], outs, "list", "list", "fold", outs))
    proto = to_onnx(m)
    assert ops(proto)["Transpose"] == (2 if reuse == "once" else 3 - (reuse == "both-operands"))
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 5, 2, 3)).astype(np.float32) for _ in range(2)]
    assert max_error(run(proto, xs), expect(m, xs)) <= ONNX_TOL


# every equation the converters write (EinsumDense, Dot, Attention's score sums, MHA's general
# attention axes) has an ONNX Runtime kernel; ("w", shape) is a constant, else a live input
# (shape without the batch axis)
@pytest.mark.parametrize(("equation", "shapes"), [
    ("...d,d->...", [(5, 7, 8), ("w", (8,))]),
    ("...d->...", [(5, 7, 8)]),
    ("...b,bc->...c", [(3, 5, 6), ("w", (6, 4))]),
    ("ab,ab->a", [(6,), (6,)]),
    ("abc,bcd->ad", [(5, 6), ("w", (5, 6, 3))]),
    ("abc,adc->abd", [(5, 4), (7, 4)]),
    ("ab,acb->ac", [(4,), (7, 4)]),
    ("abc,ac->ab", [(5, 4), (4,)]),
    ("abcd,def->abcef", [(3, 4, 6), ("w", (6, 2, 3))]),
    ("abcde,def->abcf", [(3, 4, 2, 3), ("w", (2, 3, 6))]),
    ("abfde,abcde->abdcf", [(3, 5, 2, 3), (3, 4, 2, 3)]),
    ("abdcf,abfde->abcde", [(3, 2, 4, 5), (3, 5, 2, 3)]),
    ("adbcfg,afgde->abcde", [(2, 3, 4, 2, 5), (2, 5, 2, 3)]),
])
def test_einsum(equation, shapes):
    """ONNX Einsum gives np.einsum's result (the Einsum kernel) for each equation."""
    rng = np.random.default_rng(0)
    b = Builder()
    args, ins, feeds = [], [], []
    for i, shape in enumerate(shapes):
        if shape[0] == "w":
            args.append(b.const(f"w{i}", rng.standard_normal(shape[1]).astype(np.float32)))
        else:
            ins.append(b.input(f"x{i}", (None, *shape), "float32"))
            args.append(ins[-1])
            feeds.append(rng.standard_normal((2, *shape)).astype(np.float32))
    y = b.op("Einsum", args, "out", {"equation": equation})
    m = Model(b.finish(ins, [y], "list" if len(ins) > 1 else "single", "single", "einsum",
                       ["out"]))
    assert max_error(run(to_onnx(m), feeds), expect(m, feeds)) <= ONNX_TOL


# -- Keras models ----------------------------------------------------------------------------
def load(build, tmp_path, flavour: str = "k3"):
    model = build(keras_module(flavour))
    randomize(model)
    return model, kerasport.load(save_model(model, tmp_path / "model.keras"))


def token_inputs(model, batch: int, length: int, seed: int, high: int = 20) -> list[np.ndarray]:
    """Integer or float inputs of ``batch`` x ``length`` for every input of ``model``."""
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = [batch] + [length if d is None else int(d) for d in tuple(t.shape)[1:]]
        if "int" in str(t.dtype):
            out.append(rng.integers(0, high, size=shape).astype("int32"))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize("opset", OPSETS)
def test_transformer_opsets(opset, flavour, tmp_path):
    """A GPT-like decoder (causal MHA, LayerNorm, gelu) at opsets 13, 17 and the newest."""
    model, m = load(decoder_only, tmp_path, flavour)
    inputs = random_inputs(model, batch=2, int_high=20)
    check_onnx(m, inputs, expect(m, inputs), opset=opset)


@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize("case", ["decoder_only", "padded_two_blocks", "padded_sentences",
                                  "MHA-causal", "MHA-sliding-window", "Attention-free-length",
                                  "Attention-masked", "AdditiveAttention-masked",
                                  "EinsumDense-seq", "GQA-masked"])
def test_dynamic_batch_and_length(case, flavour, tmp_path):
    """One export; batch and sequence length are free ONNX dims, run at several sizes."""
    try:
        model, m = load(CASES[case], tmp_path, flavour)
    except (AttributeError, TypeError):
        pytest.skip(f"{case} cannot be built with {flavour}")
    proto = to_onnx(m)
    first = proto.graph.input[0].type.tensor_type.shape.dim
    assert first[0].dim_param and first[1].dim_param, "batch and length must be free"
    high = 20 if case in ("decoder_only",) else 5
    for seed, (batch, length) in enumerate([(1, 1), (2, 9), (4, 13)]):
        xs = token_inputs(model, batch, length, seed, high)
        err = max_error(run(proto, xs), expect(m, xs))
        assert err <= ONNX_TOL, (batch, length, err)


def test_fixed_batch(tmp_path):
    """--batch-size fixes the first dim; the sequence length stays free."""
    model, m = load(decoder_only, tmp_path)
    proto = to_onnx(m, batch_size=2)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 2 and dims[1].dim_param
    xs = token_inputs(model, 2, 5, 0)
    assert max_error(run(proto, xs), expect(m, xs)) <= ONNX_TOL


def test_transformer_file_passes_full_check(tmp_path):
    """The written file passes the checker's full check (with shape inference), and rank-3
    multi-head attention is MatMul/Softmax: no Einsum, no Loop, no custom domain."""
    model, m = load(transformer_classifier, tmp_path)
    path = tmp_path / "transformer.onnx"
    export_onnx(m, str(path))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    counts = ops(proto)
    assert counts["MatMul"] >= 4 and counts["Softmax"] == 3  # two blocks and the head
    assert not {"Einsum", "Loop", "Scan"} & set(counts)
    assert all(n.domain in ("", "ai.onnx") for n in proto.graph.node)
    xs = token_inputs(model, 3, 6, 0)
    assert max_error(run(proto, xs), expect(m, xs)) <= ONNX_TOL


@pytest.mark.parametrize(("case", "transposes"), [("MHA-self", 4), ("MHA-causal", 4),
                                                  ("decoder_only", 8)])
def test_multi_head_attention_transposes(case, transposes, tmp_path):
    """Per MultiHeadAttention: the query, key and value heads and the merge; the key's swap for
    q @ k^T is folded into its heads' Transpose."""
    model, m = load(CASES[case], tmp_path)
    proto = to_onnx(m)
    assert ops(proto)["Transpose"] == transposes
    xs = token_inputs(model, 2, 5, 0)
    assert max_error(run(proto, xs), expect(m, xs)) <= ONNX_TOL


def masked_general_axes(k):
    """MHA over attention_axes (1, 2) with an attention_mask: a MaskedSoftmax over two axes."""
    q = k.Input((3, 4, 6))
    mask = k.Input((3, 4, 3, 4), dtype="int32")
    out = k.layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))(q, q, attention_mask=mask)
    return k.Model([q, mask], out)


def masked_general_axes_causal(k):
    """MHA over attention_axes=1 of rank-4 inputs, causal, with an attention_mask."""
    q = k.Input((4, 3, 6))
    mask = k.Input((3, 4, 4), dtype="int32")
    out = k.layers.MultiHeadAttention(2, 3, attention_axes=1)(q, q, attention_mask=mask,
                                                              use_causal_mask=True)
    return k.Model([q, mask], out)


def recurrent_then_attention(k):
    """Embedding(mask_zero) -> LSTM (held time-major in ONNX) -> masked multi-head attention ->
    LSTM: time-major sequences and masks meet attention's batch-major ops."""
    L = k.layers
    tokens = k.Input((None,), dtype="int32")
    x = L.Embedding(20, 6, mask_zero=True)(tokens)
    x = L.LSTM(8, return_sequences=True)(x)
    x = L.MultiHeadAttention(2, 4)(x, x)
    x = L.LSTM(5)(x)
    return k.Model(tokens, L.Dense(3)(x))


def conv_then_attention(k):
    """Conv1D (channels-first in ONNX) -> causal MHA -> residual Add -> Conv1D: attention takes
    its input channels-last and the residual meets the conv's layout."""
    L = k.layers
    inp = k.Input((None, 4))
    x = L.Conv1D(8, 3, padding="same", activation="relu")(inp)
    a = L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    x = L.Conv1D(6, 1)(L.Add()([x, a]))
    return k.Model(inp, L.GlobalMaxPooling1D()(x))


# attention masks are 0/1 (int_high=2): Keras 2's softmax over several axes (exp(x - logsumexp))
# is not normalised when a non-binary mask pushes scores up by 1e9, which the runtime does not
# imitate
@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize(("build", "int_high"), [(masked_general_axes, 2),
                                                 (masked_general_axes_causal, 2),
                                                 (recurrent_then_attention, 5),
                                                 (conv_then_attention, 5)],
                         ids=["general-axes-mask", "general-axes-causal-mask",
                              "recurrent-then-attention", "conv-then-attention"])
def test_more_models(build, int_high, flavour, tmp_path):
    """Parity with Keras, then ONNX Runtime against the runtime (inside check_parity)."""
    check_parity(build, flavour, "keras", tmp_path, int_high=int_high, standalone=False)
