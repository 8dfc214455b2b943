"""ONNX emitters for SimpleRNN, LSTM and GRU as the native ONNX RNN, LSTM and GRU ops.

Keras to ONNX (ops/recurrent.py is the spec):

- Weights: kernel (F, g*u) and recurrent kernel (u, g*u) become W [D, g*u, F] and
  R [D, g*u, u] with the gates reordered: LSTM Keras (i, f, c, o) -> ONNX (i, o, f, c); GRU
  (z, r, h) in both. B [D, 2*g*u] is the input bias then the recurrent bias, which only a
  reset_after GRU has (linear_before_reset=1); reset_after=False is linear_before_reset=0.
- Activation specs as ONNX activations (linear is Affine(1, 0); HardSigmoid takes the spec's
  slope and offset, which the reader resolved per Keras version). A layer using selu, silu,
  hard_silu, gelu ..., which ONNX's recurrent ops lack, becomes a Scan over time instead
  (recurrent_scan.py).
- ONNX Runtime runs layout=0 only: sequences are held time-major (context.TM) and transposed
  back only where a batch-major op needs them.
- go_backwards is direction="reverse". ONNX writes the outputs in input time order, Keras in
  processing order (reversed); the Reverse that Bidirectional puts after it then costs nothing.
  The forward and backward ops of one Bidirectional layer become one bidirectional op (paired
  by passes.pair_bidirectional / bidirectional_pairs before the emitters run).
- Masks, exactly: a masked step carries the state over, so the state only ever sees the
  unmasked steps in order. Each sequence's unmasked steps are moved to its front
  (ScatterElements), the native op runs with sequence_lens = their count, and each step's
  output is gathered back from the compacted outputs (zero before the first unmasked step, or
  at every masked step with zero_output_for_mask). Any mask, not only right-padding
  (mask_compaction.py; which masks, passes.compacted_masks).

The native op itself is built in recurrent_native.py, the Scan form in recurrent_scan.py and
ConvLSTM's Scan in conv_lstm_scan.py: this module holds the emitters only.
"""

from __future__ import annotations

from kerasport.export.onnx.context import ExportContext, emitter
from kerasport.export.onnx.conv_lstm_scan import emit_conv_lstm
from kerasport.export.onnx.recurrent_native import emit_native, mask_value, native, state_input
from kerasport.export.onnx.recurrent_scan import emit_scan
from kerasport.ir.graph import Node


@emitter("SimpleRNN", "LSTM", "GRU", time_major=True)
def recurrent(ctx: ExportContext, node: Node) -> None:
    """One native ONNX RNN / LSTM / GRU (bidirectional for the two halves of a
    Bidirectional layer)."""
    if node.outputs[0] in ctx.plan.backward_halves:
        return  # emitted with its forward half (passes.bidirectional_pairs)
    if not native(node):
        emit_scan(ctx, node, mask_value(node), [state_input(node, k) for k in range(2)])
        return
    partner = ctx.plan.partners.get(node.outputs[0])
    emit_native(ctx, [node] if partner is None else [node, partner])


@emitter("ConvLSTM")
def conv_lstm(ctx: ExportContext, node: Node) -> None:
    """ConvLSTM1D/2D/3D: (outputs, h, c) from one Scan over time (conv_lstm_scan.py)."""
    emit_conv_lstm(ctx, node)


