"""Sequence models: SimpleRNN, LSTM, GRU (every option), Bidirectional, Embedding,
RepeatVector, TimeDistributed — parity with Keras 3 and Keras 2 in all four formats
(TOL = 1e-5 of the output scale), variable sequence lengths and batch sizes."""

from __future__ import annotations

import numpy as np
import pytest
from keras_models import (
    FORMAT_IDS,
    FORMATS,
    TOL,
    check_parity,
    keras_module,
    keras_outputs,
    max_error,
    randomize,
    save,
)
from test_layers import single

import kerasport


def seq(make, shape=(7, 5)):
    return single(shape, make)


CASES = {}
for cls in ("SimpleRNN", "LSTM", "GRU"):
    CASES.update({
        f"{cls}": seq(lambda k, c=cls: getattr(k.layers, c)(6)),
        f"{cls}-sequences": seq(lambda k, c=cls: getattr(k.layers, c)(6, return_sequences=True)),
        f"{cls}-backwards": seq(lambda k, c=cls: getattr(k.layers, c)(
            4, go_backwards=True, return_sequences=True)),
        f"{cls}-nobias-relu": seq(lambda k, c=cls: getattr(k.layers, c)(
            5, use_bias=False, activation="relu")),
        f"{cls}-free-length": seq(lambda k, c=cls: getattr(k.layers, c)(
            4, return_sequences=True), shape=(None, 3)),
        f"{cls}-unroll": seq(lambda k, c=cls: getattr(k.layers, c)(4, unroll=True)),
    })
    if cls != "SimpleRNN":
        CASES[f"{cls}-hard-sigmoid"] = seq(lambda k, c=cls: getattr(k.layers, c)(
            5, recurrent_activation="hard_sigmoid", return_sequences=True))
CASES["GRU-reset-before"] = seq(lambda k: k.layers.GRU(5, reset_after=False,
                                                       return_sequences=True))


def with_state(cls):
    def build(k):
        inp = k.Input((6, 4))
        outs = getattr(k.layers, cls)(5, return_state=True, return_sequences=True)(inp)
        return k.Model(inp, list(outs))
    return build


def seq2seq(k):
    enc_in = k.Input((7, 4))
    dec_in = k.Input((5, 3))
    _, h, c = k.layers.LSTM(6, return_state=True)(enc_in)
    y = k.layers.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    return k.Model([enc_in, dec_in], k.layers.TimeDistributed(k.layers.Dense(4))(y))


def gru_initial_state(k):
    x = k.Input((6, 3))
    h = k.Input((5,))
    return k.Model([x, h], k.layers.GRU(5)(x, initial_state=[h]))


def bidirectional(mode, cls="LSTM", **kw):
    def build(k):
        inp = k.Input((6, 4))
        layer = k.layers.Bidirectional(getattr(k.layers, cls)(5, return_sequences=True, **kw),
                                       merge_mode=mode)
        out = layer(inp)
        return k.Model(inp, out if mode is not None else list(out))
    return build


def backward_layer(k):
    inp = k.Input((6, 4))
    layer = k.layers.Bidirectional(k.layers.GRU(5, return_sequences=True),
                                   backward_layer=k.layers.GRU(3, return_sequences=True,
                                                               go_backwards=True))
    return k.Model(inp, layer(inp))


def sentiment(k):
    """Padded token ids (0 = padding) -> masked LSTM -> class probabilities."""
    inp = k.Input((9,), dtype="int32")
    x = k.layers.Embedding(50, 8, mask_zero=True)(inp)
    x = k.layers.LSTM(6)(x)
    return k.Model(inp, k.layers.Dense(2, activation="softmax")(x))


def tagger(k):
    inp = k.Input((8,), dtype="int32")
    x = k.layers.Embedding(30, 6)(inp)
    x = k.layers.Bidirectional(k.layers.GRU(5, return_sequences=True))(x)
    x = k.layers.Bidirectional(k.layers.GRU(4, return_sequences=True), merge_mode="sum")(x)
    return k.Model(inp, k.layers.TimeDistributed(k.layers.Dense(3, activation="softmax"))(x))


def audio(k):
    inp = k.Input((40, 2))
    x = k.layers.Conv1D(8, 5, strides=2, activation="relu")(inp)
    x = k.layers.GRU(6, return_sequences=True)(x)
    x = k.layers.GRU(6)(x)
    return k.Model(inp, k.layers.Dense(3)(x))


def repeat_vector(k):
    inp = k.Input((5,))
    x = k.layers.RepeatVector(4)(k.layers.Dense(3)(inp))
    x = k.layers.SimpleRNN(4, return_sequences=True)(x)
    return k.Model(inp, k.layers.TimeDistributed(k.layers.Dense(2))(x))


def time_distributed_conv(k):
    inp = k.Input((3, 8, 8, 2))
    x = k.layers.TimeDistributed(k.layers.Conv2D(4, 3, activation="relu"))(inp)
    x = k.layers.TimeDistributed(k.layers.GlobalAveragePooling2D())(x)
    return k.Model(inp, k.layers.LSTM(3)(x))


def masked(kind, pooled=False, **kw):
    """Embedding(mask_zero=True) or Masking feeding a recurrent layer (inputs hold zeros at
    random steps, so masks matter in the middle of sequences too)."""
    def build(k):
        if kind == "masking":  # ReLU zeroes about half the steps of a 1-feature input
            inp = k.Input((9, 1))
            x = k.layers.Masking(mask_value=0.0)(k.layers.ReLU()(inp))
        else:
            inp = k.Input((9,), dtype="int32")
            x = k.layers.Embedding(20, 4, mask_zero=True)(inp)
        if kind == "bidirectional":
            x = k.layers.Bidirectional(k.layers.LSTM(5, return_sequences=True), **kw)(x)
        else:
            x = getattr(k.layers, kind if kind != "masking" else "GRU")(
                5, return_sequences=True, **kw)(x)
        x = k.layers.Dense(3)(x)
        if pooled:
            x = k.layers.GlobalAveragePooling1D()(x)
        return k.Model(inp, x)
    return build


def masked_last(cls):
    def build(k):
        inp = k.Input((None,), dtype="int32")
        x = k.layers.Embedding(20, 4, mask_zero=True)(inp)
        return k.Model(inp, getattr(k.layers, cls)(5)(x))
    return build


def time_distributed_model(kind):
    """TimeDistributed around a nested Sequential or Functional model."""
    def build(k):
        if kind == "sequential":
            inner = k.Sequential([k.Input((6, 6, 2)), k.layers.Conv2D(3, 3, activation="relu"),
                                  k.layers.Flatten(), k.layers.Dense(4)])
        else:
            i = k.Input((6, 6, 2))
            a = k.layers.Conv2D(3, 3)(i)
            b = k.layers.MaxPooling2D()(i)
            inner = k.Model(i, k.layers.Concatenate()([k.layers.GlobalAveragePooling2D()(a),
                                                       k.layers.Flatten()(b)]))
        inp = k.Input((3, 6, 6, 2))
        x = k.layers.TimeDistributed(inner)(inp)
        return k.Model(inp, k.layers.GRU(4)(x))
    return build


def sequence_reshapes(k):
    inp = k.Input((6, 4))
    x = k.layers.LSTM(6, return_sequences=True)(inp)
    x = k.layers.Reshape((12, 3))(x)
    x = k.layers.SimpleRNN(4, return_sequences=True)(x)
    x = k.layers.Flatten()(x)
    return k.Model(inp, k.layers.Dense(2)(x))


CASES.update({
    "time_distributed-sequential": time_distributed_model("sequential"),
    "time_distributed-functional": time_distributed_model("functional"),
    "sequence_reshapes": sequence_reshapes,
    **{f"masked-{c}": masked(c) for c in ("SimpleRNN", "LSTM", "GRU", "bidirectional")},
    **{f"masked-last-{c}": masked_last(c) for c in ("SimpleRNN", "LSTM", "GRU")},
    "masked-backwards": masked("GRU", go_backwards=True),
    "masked-bidirectional-sum": masked("bidirectional", merge_mode="sum"),
    "masked-pooled": masked("LSTM", pooled=True),
    "masking-layer": masked("masking", pooled=True),
    "LSTM-state": with_state("LSTM"), "GRU-state": with_state("GRU"),
    "SimpleRNN-state": with_state("SimpleRNN"), "seq2seq": seq2seq,
    "GRU-initial-state-input": gru_initial_state, "backward_layer": backward_layer,
    "sentiment": sentiment, "tagger": tagger, "audio": audio, "repeat_vector": repeat_vector,
    "time_distributed_conv": time_distributed_conv,
    **{f"Bidirectional-{m}": bidirectional(m) for m in ("concat", "sum", "mul", "ave", None)},
    "Bidirectional-GRU-reset-before": bidirectional("concat", "GRU", reset_after=False),
    "Bidirectional-SimpleRNN": bidirectional("ave", "SimpleRNN"),
})


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(CASES, key=str))
def test_recurrent_parity(case, flavour, ext, tmp_path):
    # masked cases draw token ids from 0..3: about a quarter of the steps are masked
    masked = "mask" in case or case == "sentiment"
    check_parity(CASES[case], flavour, ext, tmp_path, int_high=4 if masked else 20)


def rnn_cell(cell, **kw):
    def build(k):
        inp = k.Input((7, 4))
        out = k.layers.RNN(getattr(k.layers, cell)(5), **kw)(inp)
        return k.Model(inp, list(out) if kw.get("return_state") else out)
    return build


def stacked(cells, masked=False, **kw):
    """StackedRNNCells of several classes (their .keras weight groups sort differently from
    the cell order) in a keras.layers.RNN."""
    def build(k):
        if masked:
            inp = k.Input((8,), dtype="int32")
            x = k.layers.Embedding(20, 4, mask_zero=True)(inp)
        else:
            inp = x = k.Input((7, 4))
        made = [getattr(k.layers, c)(3 + i) for i, c in enumerate(cells)]
        out = k.layers.RNN(k.layers.StackedRNNCells(made), **kw)(x)
        return k.Model(inp, list(out) if kw.get("return_state") else out)
    return build


def conv_lstm(rank, **kw):
    def build(k):
        spatial = {1: (9,), 2: (7, 6), 3: (5, 4, 4)}[rank]
        inp = k.Input((4, *spatial, 2))
        out = getattr(k.layers, f"ConvLSTM{rank}D")(3, 3, **kw)(inp)
        return k.Model(inp, list(out) if kw.get("return_state") else out)
    return build


def video(k):
    inp = k.Input((5, 12, 12, 1))
    x = k.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ConvLSTM2D(4, 3, strides=2)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(3, activation="softmax")(x))


CELL_CASES = {
    **{f"RNN-{c}": rnn_cell(c) for c in ("SimpleRNNCell", "LSTMCell", "GRUCell")},
    "RNN-LSTMCell-sequences-backwards": rnn_cell("LSTMCell", return_sequences=True,
                                                 go_backwards=True),
    "RNN-GRUCell-state": rnn_cell("GRUCell", return_state=True),
    "stacked": stacked(["LSTMCell", "GRUCell", "SimpleRNNCell"]),
    "stacked-sequences-backwards": stacked(["GRUCell", "LSTMCell"], return_sequences=True,
                                           go_backwards=True),
    "stacked-state": stacked(["LSTMCell", "GRUCell"], return_state=True),
    "stacked-masked": stacked(["LSTMCell", "GRUCell"], masked=True, return_sequences=True,
                              go_backwards=True),
    "ConvLSTM1D": conv_lstm(1),
    "ConvLSTM1D-same-sequences": conv_lstm(1, padding="same", return_sequences=True),
    "ConvLSTM2D": conv_lstm(2),
    "ConvLSTM2D-strides-state": conv_lstm(2, strides=2, return_state=True),
    "ConvLSTM2D-same-backwards": conv_lstm(2, padding="same", go_backwards=True,
                                           return_sequences=True),
    "ConvLSTM2D-dilated-nobias": conv_lstm(2, dilation_rate=2, use_bias=False),
    "ConvLSTM3D": conv_lstm(3, padding="same"),
    "video": video,
}


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("case", sorted(CELL_CASES))
def test_cells_and_conv_lstm_parity(case, flavour, ext, tmp_path):
    check_parity(CELL_CASES[case], flavour, ext, tmp_path, int_high=4)


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
def test_variable_lengths_and_batch_sizes(flavour, ext, tmp_path):
    """One free-length masked model, run at several batch sizes (33 > predict's default
    batch of 32, so predict splits it) and sequence lengths; tolerance TOL."""
    k = keras_module(flavour)
    inp = k.Input((None,), dtype="int32")
    x = k.layers.Embedding(12, 5, mask_zero=True)(inp)
    x = k.layers.Bidirectional(k.layers.GRU(4, return_sequences=True))(x)
    x = k.layers.LSTM(3)(x)
    model = k.Model(inp, k.layers.Dense(2)(x))
    randomize(model)
    m = kerasport.load(save(model, tmp_path / f"model.{ext}"))
    rng = np.random.default_rng(0)
    for batch, steps in [(1, 1), (1, 13), (7, 4), (33, 9)]:
        ids = rng.integers(0, 4, size=(batch, steps)).astype("int32")
        want = keras_outputs(model, [ids])
        assert max_error([m.predict(ids)], want) <= TOL, (batch, steps)


def merged_masks(merge):
    """Two masked embeddings merged: Keras 3 records the mask merge (ExpandDims, ZerosLike,
    Concatenate, LogicalOr ops); Keras 2 merges masks implicitly."""
    def build(k):
        inp = k.Input((8,), dtype="int32")
        a = k.layers.Embedding(10, 4, mask_zero=True)(inp)
        b = k.layers.Embedding(10, 3 if merge == "Concatenate" else 4, mask_zero=True)(inp)
        x = getattr(k.layers, merge)()([a, b])
        return k.Model(inp, k.layers.GRU(4, return_sequences=True)(x))
    return build


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("merge", ["Add", "Concatenate", "Multiply"])
def test_merged_masks_parity(merge, flavour, ext, tmp_path):
    check_parity(merged_masks(merge), flavour, ext, tmp_path, int_high=4)


def test_unsupported_recurrent_options_are_listed_together(tmp_path):
    """Options kerasport cannot convert are refused in one error, each with its layer, class,
    config key and a hint, before anything is written."""
    k = keras_module("k3")
    inp = k.Input((6, 4), batch_size=2)
    a = k.layers.LSTM(3, stateful=True, name="stateful_lstm")(inp)
    b = k.layers.SimpleRNN(3, activation="exponential", name="exp_rnn")(inp)
    c = k.layers.GRU(3, recurrent_activation="softmax", name="softmax_gru")(inp)
    frames = k.layers.Reshape((2, 1, 3, 4))(inp)  # (time, channels, height, width)
    d = k.layers.Flatten()(k.layers.ConvLSTM2D(2, 2, data_format="channels_first",
                                               name="cf_convlstm")(frames))
    model = k.Model(inp, k.layers.Concatenate()([a, b, c, d]))
    path = save(model, tmp_path / "model.keras")
    out = tmp_path / "out.npz"
    with pytest.raises(kerasport.UnsupportedLayerError) as info:
        kerasport.load(path).save(str(out))
    issues = {i.layer: i for i in info.value.issues}
    assert set(issues) == {"stateful_lstm", "exp_rnn", "softmax_gru", "cf_convlstm"}, issues
    assert issues["stateful_lstm"].key == "stateful" and "initial_state" in issues[
        "stateful_lstm"].hint
    assert issues["exp_rnn"].key == "activation" and "tanh" in issues["exp_rnn"].hint
    assert issues["softmax_gru"].key == "recurrent_activation"
    assert issues["cf_convlstm"].key == "data_format"
    assert not out.exists()
