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
  The forward and backward ops of one Bidirectional layer become one bidirectional op.
- Masks, exactly: a masked step carries the state over, so the state only ever sees the
  unmasked steps in order. Each sequence's unmasked steps are moved to its front
  (ScatterElements), the native op runs with sequence_lens = their count, and each step's
  output is gathered back from the compacted outputs (zero before the first unmasked step, or
  at every masked step with zero_output_for_mask). Any mask, not only right-padding.
"""

from __future__ import annotations

from kerasport.export.onnx.context import TM, ExportContext, emitter
from kerasport.export.onnx.conv_lstm_scan import emit_conv_lstm
from kerasport.export.onnx.recurrent_native import emit_native, mask_value, native, state_input
from kerasport.export.onnx.recurrent_scan import emit_scan
from kerasport.ir.graph import Node

_FUSED = "fused"
def _differs(a: Node, b: Node) -> set[str]:
    keys = set(a.attrs) | set(b.attrs)
    return {k for k in keys if a.attrs.get(k) != b.attrs.get(k)}


def _backward_partner(ctx: ExportContext, node: Node) -> Node | None:
    """The backward half of a Bidirectional layer whose forward half is ``node``, if the two
    fit one ONNX op (same input, mask, units and options; initial states for both or none)."""
    if node.attrs.get("go_backwards"):
        return None
    rows = ctx.graph.constants[node.inputs[2]].shape[0] if ctx.is_const(node.inputs[2]) else -1
    n_states = 2 if node.op == "LSTM" else 1
    for other in ctx.graph.nodes:
        if (other is node or other.op != node.op or other.layer != node.layer
                or other.inputs[0] != node.inputs[0] or mask_value(other) != mask_value(node)
                or _differs(node, other) != {"go_backwards"}
                or not other.attrs.get("go_backwards")
                or (other.outputs[0], _FUSED) in ctx.where
                or not ctx.is_const(other.inputs[2])
                or ctx.graph.constants[other.inputs[2]].shape[0] != rows):
            continue
        mine = [state_input(node, k) for k in range(n_states)]
        theirs = [state_input(other, k) for k in range(n_states)]
        if [bool(s) for s in mine] != [bool(s) for s in theirs]:
            continue
        if all(not s or ctx.is_const(s) or ctx.layouts(s) or (s, TM) in ctx.where
               for s in theirs):
            return other
    return None


@emitter("SimpleRNN", "LSTM", "GRU", time_major=True)
def recurrent(ctx: ExportContext, node: Node) -> None:
    """One native ONNX RNN / LSTM / GRU (bidirectional for the two halves of a
    Bidirectional layer)."""
    if (node.outputs[0], _FUSED) in ctx.where:
        return  # emitted with its forward half
    if not native(node):
        emit_scan(ctx, node, mask_value(node), [state_input(node, k) for k in range(2)])
        return
    partner = _backward_partner(ctx, node)
    nodes = [node] if partner is None else [node, partner]
    for n in nodes:
        ctx.where[(n.outputs[0], _FUSED)] = ""
    emit_native(ctx, nodes)


@emitter("ConvLSTM")
def conv_lstm(ctx: ExportContext, node: Node) -> None:
    """ConvLSTM1D/2D/3D: (outputs, h, c) from one Scan over time (conv_lstm_scan.py)."""
    emit_conv_lstm(ctx, node)


