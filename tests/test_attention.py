"""Attention layers and transformer models: Attention, AdditiveAttention, MultiHeadAttention,
GroupedQueryAttention, EinsumDense, Dot, LayerNormalization on sequences — parity with Keras 3
and Keras 2 in all four formats (TOL = 1e-5 of the output scale), with Keras masks
(Embedding(mask_zero=True)), attention_mask inputs, causal masks, free sequence lengths and
several batch sizes."""

from __future__ import annotations

import numpy as np
import pytest
from keras_models import (
    FORMAT_IDS,
    FORMATS,
    TOL,
    check_parity,
    keras_module,
    max_error,
    randomize,
    save,
)

import kerasport
from kerasport.model import as_list


def pair(make, q_shape=(5, 8), v_shape=(7, 8), key_shape=None, **call):
    """A model: [query, value(, key)] -> make(k)([...], **call), for Attention layers."""

    def build(k):
        q, v = k.Input(q_shape), k.Input(v_shape)
        ins = [q, v] + ([k.Input(key_shape)] if key_shape else [])
        out = make(k)(ins, **call)
        return k.Model(ins, list(out) if isinstance(out, tuple) else out)

    return build


def mha(make, q_shape=(None, 8), v_shape=None, key_shape=None, mask=False, **call):
    """A model: query (, value, key, attention_mask) -> make(k)(query, value, ...)."""

    def build(k):
        q = k.Input(q_shape)
        v = k.Input(v_shape) if v_shape else q
        ins = [q] + ([v] if v_shape else [])
        kw = dict(call)
        if key_shape:
            kw["key"] = k.Input(key_shape)
            ins.append(kw["key"])
        if mask:
            kw["attention_mask"] = k.Input((q_shape[0], (v_shape or q_shape)[0]),
                                           dtype="int32")
            ins.append(kw["attention_mask"])
        out = make(k)(q, v, **kw)
        return k.Model(ins, list(out) if isinstance(out, tuple) else out)

    return build


def masked(make, self_attention=True):
    """Padded sentences: Embedding(mask_zero=True) -> attention layer -> its output."""

    def build(k):
        tokens = k.Input((None,), dtype="int32")
        x = k.layers.Embedding(20, 8, mask_zero=True)(tokens)
        layer = make(k)
        y = layer([x, x]) if self_attention else layer(x, x)
        return k.Model(tokens, y)

    return build


def _with_scores(layer):
    """Call ``layer(q, v)`` with return_attention_scores=True (a list of both outputs)."""
    return lambda q, v: list(layer(q, v, return_attention_scores=True))


def explicit_masks(k):
    """Attention(...)([x, x], mask=[m, m]) with a mask computed in the graph (Keras 3 ops; in
    Keras 2 it would be a TFOpLambda, so the case is Keras 3 only)."""
    tokens = k.Input((None,), dtype="int32")
    x = k.layers.Embedding(20, 8)(tokens)
    m = k.ops.not_equal(tokens, 0)
    return k.Model(tokens, k.layers.Attention(use_scale=True)([x, x], mask=[m, m]))


def mha_keywords(k):
    """MultiHeadAttention called with query=, value=, key= keywords only."""
    q, v, key = k.Input((5, 8)), k.Input((None, 6)), k.Input((None, 4))
    out = k.layers.MultiHeadAttention(2, 4)(query=q, value=v, key=key, use_causal_mask=True)
    return k.Model([q, v, key], out)


def single(shape, make):
    def build(k):
        inp = k.Input(shape)
        return k.Model(inp, make(k)(inp))

    return build


def two(shape_a, shape_b, make):
    def build(k):
        a, b = k.Input(shape_a), k.Input(shape_b)
        return k.Model([a, b], make(k)([a, b]))

    return build


# -- models from the issue --------------------------------------------------------------------
def encoder_block(k, x, heads=2, dim=8, ff=16, causal=False):
    """Post-norm transformer block: MHA + residual + LayerNorm, FFN + residual + LayerNorm."""
    L = k.layers
    kw = {"use_causal_mask": True} if causal else {}
    a = L.MultiHeadAttention(heads, dim // heads, dropout=0.1)(x, x, **kw)
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dropout(0.1)(a)]))
    f = L.Dense(dim)(L.Dense(ff, activation="relu")(x))
    return L.LayerNormalization(epsilon=1e-6)(L.Add()([x, f]))


def transformer_classifier(k):
    """Token + position embeddings, two encoder blocks, average pooling, softmax head."""
    L = k.layers
    tokens = k.Input((None,), dtype="int32", name="tokens")
    positions = k.Input((None,), dtype="int32", name="positions")
    x = L.Add()([L.Embedding(20, 8)(tokens), L.Embedding(20, 8)(positions)])
    x = encoder_block(k, encoder_block(k, x))
    x = L.GlobalAveragePooling1D()(x)
    return k.Model([tokens, positions], L.Dense(3, activation="softmax")(x))


def decoder_only(k):
    """GPT-like: learned positions (a second integer input), causal self-attention, pre-norm
    blocks, logits over the vocabulary at every position."""
    L = k.layers
    tokens = k.Input((None,), dtype="int32", name="tokens")
    positions = k.Input((None,), dtype="int32", name="positions")
    x = L.Add()([L.Embedding(20, 8)(tokens), L.Embedding(20, 8)(positions)])
    for _ in range(2):
        h = L.LayerNormalization()(x)
        x = L.Add()([x, L.MultiHeadAttention(2, 4)(h, h, use_causal_mask=True)])
        h = L.LayerNormalization()(x)
        x = L.Add()([x, L.Dense(8)(L.Dense(16, activation="gelu")(h))])
    return k.Model([tokens, positions], L.Dense(20)(L.LayerNormalization()(x)))


def padded_sentences(k):
    """Embedding(mask_zero=True) feeding MHA: padding masks the keys, the queries' mask reaches
    the masked average pooling."""
    L = k.layers
    tokens = k.Input((None,), dtype="int32")
    x = L.Embedding(20, 8, mask_zero=True)(tokens)
    a = L.MultiHeadAttention(2, 4)(x, x)
    x = L.LayerNormalization()(L.Add()([x, a]))
    x = L.GlobalAveragePooling1D()(x)
    return k.Model(tokens, L.Dense(2)(x))


def padded_two_blocks(k):
    """Two masked encoder blocks, full sequence out. Keras 3's MultiHeadAttention clears the
    masks of its inputs, so its second block runs unmasked; Keras 2 masks both."""
    tokens = k.Input((None,), dtype="int32")
    x = k.layers.Embedding(20, 8, mask_zero=True)(tokens)
    return k.Model(tokens, encoder_block(k, encoder_block(k, x, causal=True)))


def padded_sequence_out(k):
    """Masked MHA whose full sequence output is compared (padded positions included)."""
    L = k.layers
    tokens = k.Input((None,), dtype="int32")
    x = L.Embedding(20, 8, mask_zero=True)(tokens)
    return k.Model(tokens, L.MultiHeadAttention(2, 4, value_dim=3)(x, x,
                                                                    use_causal_mask=True))


CASES = {
    # Attention (Luong)
    "Attention-dot": pair(lambda k: k.layers.Attention()),
    "Attention-scale-key": pair(lambda k: k.layers.Attention(use_scale=True),
                                key_shape=(7, 8), v_shape=(7, 5)),
    "Attention-concat": pair(lambda k: k.layers.Attention(score_mode="concat")),
    "Attention-concat-scale": pair(lambda k: k.layers.Attention(score_mode="concat",
                                                                use_scale=True)),
    "Attention-causal": pair(lambda k: k.layers.Attention(use_scale=True), v_shape=(5, 8),
                             use_causal_mask=True),
    "Attention-causal-cross": pair(lambda k: k.layers.Attention(), use_causal_mask=True),
    "Attention-scores": pair(lambda k: k.layers.Attention(), return_attention_scores=True),
    "Attention-free-length": pair(lambda k: k.layers.Attention(), q_shape=(None, 8),
                                  v_shape=(None, 8)),
    "Attention-masked": masked(lambda k: k.layers.Attention(use_scale=True)),
    "Attention-masked-concat": masked(lambda k: k.layers.Attention(score_mode="concat")),
    "Attention-explicit-mask": explicit_masks,
    # AdditiveAttention (Bahdanau)
    "AdditiveAttention": pair(lambda k: k.layers.AdditiveAttention()),
    "AdditiveAttention-noscale-key": pair(lambda k: k.layers.AdditiveAttention(
        use_scale=False), key_shape=(7, 8), v_shape=(7, 3)),
    "AdditiveAttention-masked": masked(lambda k: k.layers.AdditiveAttention()),
    "AdditiveAttention-causal": pair(lambda k: k.layers.AdditiveAttention(),
                                     v_shape=(5, 8), use_causal_mask=True),
    # MultiHeadAttention
    "MHA-self": mha(lambda k: k.layers.MultiHeadAttention(2, 4)),
    "MHA-cross-key": mha(lambda k: k.layers.MultiHeadAttention(3, 4, value_dim=5),
                         q_shape=(5, 8), v_shape=(7, 6), key_shape=(7, 4)),
    "MHA-keywords": mha_keywords,
    "MHA-causal": mha(lambda k: k.layers.MultiHeadAttention(2, 4), use_causal_mask=True),
    "MHA-causal-cross": mha(lambda k: k.layers.MultiHeadAttention(2, 4), q_shape=(5, 8),
                            v_shape=(7, 8), use_causal_mask=True),
    "MHA-attention-mask": mha(lambda k: k.layers.MultiHeadAttention(2, 4), q_shape=(5, 8),
                              v_shape=(7, 6), mask=True),
    "MHA-attention-mask-causal": mha(lambda k: k.layers.MultiHeadAttention(2, 4),
                                     q_shape=(6, 8), mask=True, use_causal_mask=True),
    "MHA-output-shape": mha(lambda k: k.layers.MultiHeadAttention(2, 4, output_shape=5)),
    "MHA-output-shape-2d": mha(lambda k: k.layers.MultiHeadAttention(2, 4,
                                                                     output_shape=(2, 3))),
    "MHA-nobias": mha(lambda k: k.layers.MultiHeadAttention(2, 4, use_bias=False,
                                                            value_dim=6)),
    "MHA-dropout": mha(lambda k: k.layers.MultiHeadAttention(2, 4, dropout=0.2),
                       use_causal_mask=True),
    "MHA-scores": mha(lambda k: k.layers.MultiHeadAttention(2, 4), q_shape=(5, 8),
                      v_shape=(7, 8), mask=True, return_attention_scores=True),
    "MHA-axes-2": mha(lambda k: k.layers.MultiHeadAttention(2, 3, attention_axes=(2,)),
                      q_shape=(3, 4, 6)),
    "MHA-axes-12": mha(lambda k: k.layers.MultiHeadAttention(2, 3, attention_axes=(1, 2)),
                       q_shape=(3, 4, 6), v_shape=(2, 5, 6)),
    "MHA-axes-1-rank4-causal": mha(lambda k: k.layers.MultiHeadAttention(
        2, 3, attention_axes=1), q_shape=(4, 3, 6), use_causal_mask=True),
    "MHA-gate": mha(lambda k: k.layers.MultiHeadAttention(2, 4, use_gate=True)),
    "MHA-sliding-window": mha(lambda k: k.layers.MultiHeadAttention(2, 4, sliding_window=2),
                              use_causal_mask=True),
    "MHA-masked": masked(lambda k: k.layers.MultiHeadAttention(2, 4), self_attention=False),
    "MHA-masked-dropout": masked(lambda k: k.layers.MultiHeadAttention(2, 4, dropout=0.3),
                                 self_attention=False),
    "MHA-masked-scores": masked(lambda k: _with_scores(k.layers.MultiHeadAttention(2, 4)),
                                self_attention=False),
    # GroupedQueryAttention (Keras 3 only)
    "GQA": mha(lambda k: k.layers.GroupQueryAttention(4, 4, 2)),
    "GQA-causal-cross": mha(lambda k: k.layers.GroupQueryAttention(3, 6, 3, use_bias=False),
                            q_shape=(5, 8), v_shape=(7, 8), use_causal_mask=True),
    "GQA-one-kv-head": mha(lambda k: k.layers.GroupQueryAttention(4, 4, 1),
                           use_causal_mask=True),
    "GQA-mask-scores": mha(lambda k: k.layers.GroupQueryAttention(4, 2, 2), q_shape=(5, 8),
                           v_shape=(7, 8), mask=True, return_attention_scores=True),
    "GQA-gate-window": mha(lambda k: k.layers.GroupQueryAttention(
        4, 4, 2, use_gate=True, sliding_window=3)),
    "GQA-masked": masked(lambda k: k.layers.GroupQueryAttention(4, 4, 2),
                         self_attention=False),
    # EinsumDense
    "EinsumDense-2d": single((6,), lambda k: k.layers.EinsumDense("ab,bc->ac", 4,
                                                                  bias_axes="c")),
    "EinsumDense-seq": single((None, 6), lambda k: k.layers.EinsumDense(
        "abc,cd->abd", (None, 4), bias_axes="d", activation="relu")),
    "EinsumDense-heads": single((5, 6), lambda k: k.layers.EinsumDense(
        "abc,cde->abde", (5, 2, 3), bias_axes="de", activation="gelu")),
    "EinsumDense-time-bias": single((5, 6), lambda k: k.layers.EinsumDense(
        "abc,cd->abd", (5, 4), bias_axes="b")),
    "EinsumDense-contract-time": single((5, 6), lambda k: k.layers.EinsumDense(
        "abc,bcd->ad", 3, bias_axes="d", activation="tanh")),
    "EinsumDense-ellipsis": single((3, 5, 6), lambda k: k.layers.EinsumDense(
        "...b,bc->...c", 4, bias_axes="c")),
    "EinsumDense-nobias": single((5, 6), lambda k: k.layers.EinsumDense("abc,cd->abd",
                                                                        (5, 4))),
    # Dot
    "Dot-2d": two((6,), (6,), lambda k: k.layers.Dot(axes=-1)),
    "Dot-2d-normalize": two((6,), (6,), lambda k: k.layers.Dot(axes=1, normalize=True)),
    "Dot-3d": two((5, 4), (7, 4), lambda k: k.layers.Dot(axes=(2, 2))),
    "Dot-3d-time": two((5, 4), (5, 3), lambda k: k.layers.Dot(axes=1, normalize=True)),
    "Dot-2d-3d": two((4,), (7, 4), lambda k: k.layers.Dot(axes=(1, 2))),
    "Dot-3d-2d": two((5, 4), (4,), lambda k: k.layers.Dot(axes=(2, 1))),
    # LayerNormalization on sequences
    "LayerNorm-seq": single((None, 6), lambda k: k.layers.LayerNormalization()),
    "LayerNorm-seq-axes": single((5, 6), lambda k: k.layers.LayerNormalization(
        axis=(1, 2), epsilon=1e-5)),
    # models
    "transformer_classifier": transformer_classifier,
    "decoder_only": decoder_only,
    "padded_sentences": padded_sentences,
    "padded_sequence_out": padded_sequence_out,
    "padded_two_blocks": padded_two_blocks,
}


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(CASES, key=str))
def test_attention_parity(case, flavour, ext, tmp_path):
    check_parity(CASES[case], flavour, ext, tmp_path, int_high=20 if "only" in case or
                 "classifier" in case else 5)


def _inputs(model, batch: int, length: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = [batch] + [length if d is None else int(d) for d in tuple(t.shape)[1:]]
        if "int" in str(t.dtype):
            out.append(rng.integers(0, 5, size=shape).astype("int32"))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


@pytest.mark.parametrize("flavour", ["k3", "k2"])
@pytest.mark.parametrize("case", ["decoder_only", "padded_two_blocks", "MHA-self",
                                  "Attention-free-length", "EinsumDense-seq"])
def test_lengths_and_batches(case, flavour, tmp_path):
    """One converted file, several batch sizes and sequence lengths (1 to 13 steps)."""
    k = keras_module(flavour)
    model = CASES[case](k)
    randomize(model)
    m = kerasport.load(save(model, tmp_path / "model.keras"))
    for seed, (batch, length) in enumerate([(1, 1), (1, 9), (4, 3), (7, 13)]):
        xs = _inputs(model, batch, length, seed)
        want = [np.asarray(t) for t in as_list(model(xs if len(xs) > 1 else xs[0],
                                                     training=False))]
        got = as_list(m.predict(xs if len(xs) > 1 else xs[0], batch_size=batch))
        assert max_error(got, want) <= TOL, (batch, length)


def test_unsupported_option_is_named(tmp_path):
    """A masked MHA over rank-4 inputs is refused with the layer named, not miscomputed."""
    k = keras_module("k3")
    inp = k.Input((3, 4, 6))
    x = k.layers.Masking()(inp)
    model = k.Model(inp, k.layers.MultiHeadAttention(2, 3, attention_axes=(2,))(x, x))
    path = save(model, tmp_path / "model.keras")
    with pytest.raises(kerasport.UnsupportedLayerError, match="rank > 3"):
        kerasport.load(path)
