"""Recurrent layers. LSTM with Keras' default activations: a WHILE loop (loop.py) when it
returns its last output over a known length and the form is "loop", else
UNIDIRECTIONAL_SEQUENCE_LSTM (batch-major, states as variable tensors, so a fixed batch).
SimpleRNN, GRU and other LSTMs: unrolled over the (known) time steps with FULLY_CONNECTED and
elementwise builtins, which keeps a dynamic batch and needs no Flex op."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter, unavailable
from kerasport.export.tflite.writer.helpers import (
    activation_code,
    alias,
    const,
    ints,
    options,
    read,
    temp,
    tensor,
    tshape,
)
from kerasport.ir.graph import Node

TANH, SIGMOID = {"op": "Tanh"}, {"op": "Sigmoid"}


def _given(node: Node, i: int) -> bool:
    return len(node.inputs) > i and bool(node.inputs[i])


def check_plain(ctx: TFLiteContext, node: Node) -> None:
    """Refuse computed weights."""
    for i in (1, 2, 3):
        if _given(node, i) and not ctx.is_const(node.inputs[i]):
            raise KerasportError(f"layer '{node.layer}': {node.op} weights must be constants")


def last_step(ctx: TFLiteContext, seq: int, out_value: str) -> None:
    """The last time step of (N, T, U) as the node's (N, U) output: STRIDED_SLICE with
    shrink_axis on the time axis."""
    shape = tshape(ctx, seq)
    out = temp(ctx, out_value, [shape[0], shape[2]])
    ctx.op("STRIDED_SLICE", [seq, ints(ctx, [0, -1, 0], "begin"), ints(ctx, [0, 0, 0], "end"),
                             ints(ctx, [1, 1, 1], "strides")], [out],
           options("StridedSliceOptions", beginMask=0b101, endMask=0b111, shrinkAxisMask=0b010))
    alias(ctx, out_value, out)


def fused_lstm_ok(ctx: TFLiteContext, node: Node) -> bool:
    """Whether UNIDIRECTIONAL_SEQUENCE_LSTM computes this LSTM: Keras' default activations,
    no initial states, no mask, final states unused."""
    a = node.attrs
    return (a.get("activation", TANH) == TANH and a.get("recurrent_activation", SIGMOID)
            == SIGMOID and not _given(node, 4) and not _given(node, 5) and not _given(node, 6)
            and all(o not in ctx.used for o in node.outputs[1:3] if o))


@emitter("LSTM")
def lstm(ctx: TFLiteContext, node: Node) -> None:
    """Keras LSTM (gates i, f, c, o): a WHILE loop or UNIDIRECTIONAL_SEQUENCE_LSTM when its
    activations are tanh/sigmoid and no initial state or final state output is used; else
    unrolled."""
    check_plain(ctx, node)
    if not fused_lstm_ok(ctx, node) or not ctx.fused_lstm:
        from kerasport.export.tflite.writer.unrolled import unrolled_lstm

        unrolled_lstm(ctx, node)
        return
    x = read(ctx, node.inputs[0])
    if node.attrs.get("go_backwards"):
        x = _reverse_time(ctx, x)
    kernel = ctx.const_value(node.inputs[1])
    rec = ctx.const_value(node.inputs[2])
    units = rec.shape[0]
    bias = ctx.const_value(node.inputs[3]) if _given(node, 3) else np.zeros(4 * units,
                                                                             np.float32)
    if ctx.lstm_loop:
        from kerasport.export.tflite.writer.loop import loop_lstm_ok, while_lstm

        if loop_lstm_ok(ctx, node):
            while_lstm(ctx, node, x, kernel, rec, bias)
            return
    name = node.outputs[0]
    gates = "ifco"
    w_in = [const(ctx, np.ascontiguousarray(kernel[:, k * units:(k + 1) * units].T),
                  f"{name}/input_to_{g}") for k, g in enumerate(gates)]
    w_rec = [const(ctx, np.ascontiguousarray(rec[:, k * units:(k + 1) * units].T),
                   f"{name}/recurrent_to_{g}") for k, g in enumerate(gates)]
    b = [const(ctx, bias[k * units:(k + 1) * units], f"{name}/bias_{g}")
         for k, g in enumerate(gates)]
    batch = tshape(ctx, x)[0]
    h = tensor(ctx, f"{name}/h_state", [batch, units], variable=True)
    c = tensor(ctx, f"{name}/c_state", [batch, units], variable=True)
    zero_states(ctx, [h, c])
    steps = tshape(ctx, x)[1]
    seq = temp(ctx, f"{name}/sequence", [batch, steps, units])
    inputs = [x, *w_in, *w_rec, -1, -1, -1, *b, -1, -1, h, c, -1, -1, -1, -1]
    ctx.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [seq], options(
        "UnidirectionalSequenceLSTMOptions", fusedActivationFunction=activation_code("TANH"),
        timeMajor=False))
    if node.attrs.get("return_sequences"):
        alias(ctx, name, seq)
    else:
        last_step(ctx, seq, name)


def zero_states(ctx: TFLiteContext, states: list[int]) -> None:
    """FILL the variable state tensors with zeros before the LSTM runs: LiteRT keeps variable
    tensors between invocations, and a Keras LSTM starts every call from zeros."""
    for state in states:
        dims = ctx.tensors[state].shape
        ctx.op("FILL", [ints(ctx, dims, "dims"), const(ctx, np.zeros((), np.float32), "zero")],
               [state])


def _reverse_time(ctx: TFLiteContext, x: int) -> int:
    out = temp(ctx, f"{ctx.tensors[x].name}/reversed", tshape(ctx, x))
    ctx.op("REVERSE_V2", [x, ints(ctx, [1], "axis")], [out])
    return out


_RNN_ACTIVATIONS = {"Tanh": "TANH", "Relu": "RELU"}


def fused_rnn_ok(ctx: TFLiteContext, node: Node) -> bool:
    """Whether this SimpleRNN needs UNIDIRECTIONAL_SEQUENCE_RNN (a free sequence length, which
    unrolling cannot take) and the op computes it: tanh or plain relu, no initial state, no
    mask, final state unused."""
    act = node.attrs.get("activation", TANH) or {}
    plain = {k: v for k, v in act.items() if k != "op" and v not in (None, 0, 0.0)}
    return (ctx.shape(node.inputs[0])[1] is None and act.get("op") in _RNN_ACTIVATIONS
            and not plain and not _given(node, 4) and not _given(node, 5)
            and all(o not in ctx.used for o in node.outputs[1:2] if o))


@emitter("SimpleRNN")
def simple_rnn(ctx: TFLiteContext, node: Node) -> None:
    """SimpleRNN unrolled over time; with a free sequence length UNIDIRECTIONAL_SEQUENCE_RNN
    (its state a variable tensor zeroed by a FILL before it runs)."""
    check_plain(ctx, node)
    if not fused_rnn_ok(ctx, node):
        from kerasport.export.tflite.writer.unrolled import unrolled_simple_rnn

        unrolled_simple_rnn(ctx, node)
        return
    x = read(ctx, node.inputs[0])
    if node.attrs.get("go_backwards"):
        x = _reverse_time(ctx, x)
    kernel, rec = ctx.const_value(node.inputs[1]), ctx.const_value(node.inputs[2])
    units, name = rec.shape[0], node.outputs[0]
    bias = ctx.const_value(node.inputs[3]) if _given(node, 3) else np.zeros(units, np.float32)
    batch, steps = tshape(ctx, x)[:2]
    h = tensor(ctx, f"{name}/h_state", [batch, units], variable=True)
    zero_states(ctx, [h])
    seq = temp(ctx, f"{name}/sequence", [batch, steps, units])
    act = _RNN_ACTIVATIONS[node.attrs.get("activation", TANH)["op"]]
    ctx.op("UNIDIRECTIONAL_SEQUENCE_RNN", [
        x, const(ctx, np.ascontiguousarray(kernel.T), f"{name}/weights"),
        const(ctx, np.ascontiguousarray(rec.T), f"{name}/recurrent_weights"),
        const(ctx, bias, f"{name}/bias"), h], [seq],
        options("SequenceRNNOptions", timeMajor=False,
                fusedActivationFunction=activation_code(act)))
    if node.attrs.get("return_sequences"):
        alias(ctx, name, seq)
    else:
        last_step(ctx, seq, name)


@emitter("GRU")
def gru(ctx: TFLiteContext, node: Node) -> None:
    """GRU (both reset_after variants) unrolled over time (TFLite has no GRU builtin)."""
    check_plain(ctx, node)
    from kerasport.export.tflite.writer.unrolled import unrolled_gru

    unrolled_gru(ctx, node)


unavailable("ConvLSTM", "TFLite has no convolutional LSTM operator and kerasport does not "
            "unroll ConvLSTM yet")
