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

import weakref
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CL, TM, ExportContext, emitter
from kerasport.export.onnx.helpers import BOOL, FLOAT, INT32, INT64
from kerasport.export.onnx.recurrent_scan import emit_scan
from kerasport.export.onnx.sequence import (
    BOOL_TM,
    mask_index,
    reverse_axis,
    used,
)
from kerasport.ir.graph import Node
from kerasport.ops.recurrent import SIGMOID, TANH

_ONNX_OP = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
_ORDER = {"SimpleRNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [0, 1, 2]}
_FUSED = "fused"
# ops ONNX's RNN / LSTM / GRU apply themselves, with their alpha and beta attributes
_NATIVE = {"Tanh": ((), ()), "Sigmoid": ((), ()), "Relu": ((), ()), "Softplus": ((), ()),
           "Softsign": ((), ()), "HardSigmoid": (("slope", 1.0 / 6.0), ("offset", 0.5)),
           "Elu": (("alpha", 1.0), ())}


def _native_form(spec: dict | None) -> tuple[str, list, list] | None:
    """(ONNX activation, its alpha values, its beta values) for an activation spec, or None if
    ONNX's recurrent ops lack it."""
    if spec is None:
        return "Affine", [1.0], [0.0]
    op = spec.get("op")
    if op not in _NATIVE:
        return None
    alpha, beta = _NATIVE[op]
    known = {"op", *(pair[0] for pair in (alpha, beta) if pair)}
    if op == "Relu":  # plain relu only
        known |= {k for k in ("max_value", "negative_slope", "threshold") if not spec.get(k)}
    if set(spec) - known:
        return None
    return (op, [float(spec.get(alpha[0], alpha[1]))] if alpha else [],
            [float(spec.get(beta[0], beta[1]))] if beta else [])


def _specs(node: Node) -> tuple[dict | None, dict | None]:
    a = node.attrs
    return a.get("activation", TANH), a.get("recurrent_activation", SIGMOID)


def native(node: Node) -> bool:
    """True if ONNX's RNN / LSTM / GRU op has the node's activations."""
    act, rec = _specs(node)
    specs = [act] if node.op == "SimpleRNN" else [act, rec]
    return all(_native_form(s) is not None for s in specs)


def _activations(node: Node) -> tuple[list[str], list[float], list[float]]:
    """The op's activation list (f, g, h for LSTM; f, g for GRU; f for RNN) with alphas and
    betas in the order ONNX consumes them."""
    act, rec = _specs(node)
    specs = {"SimpleRNN": [act], "GRU": [rec, act], "LSTM": [rec, act, act]}[node.op]
    acts, alphas, betas = [], [], []
    for spec in specs:
        form = _native_form(spec)
        if form is None:
            raise KerasportError(f"layer '{node.layer}': activation {spec!r} of {node.op} has "
                                 "no native ONNX recurrent form")
        acts.append(form[0])
        alphas += form[1]
        betas += form[2]
    return acts, alphas, betas


def _const(ctx: ExportContext, node: Node, i: int) -> np.ndarray | None:
    value = node.inputs[i] if i < len(node.inputs) else ""
    if not value:
        return None
    if not ctx.is_const(value):
        raise KerasportError(f"layer '{node.layer}': {node.op} weights must be constants")
    return np.asarray(ctx.graph.constants[value], np.float32)


def _weights(ctx: ExportContext, node: Node) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, R, B) of one direction in ONNX form: [g*u, F], [g*u, u], [2*g*u]."""
    order = _ORDER[node.op]
    g = len(order)

    def gates(a: np.ndarray) -> np.ndarray:  # (..., g*u) in ONNX gate order
        parts = np.split(a, g, axis=-1)
        return np.concatenate([parts[i] for i in order], axis=-1)

    kernel, rec = _const(ctx, node, 1), _const(ctx, node, 2)
    bias = _const(ctx, node, 3)
    units = rec.shape[0]
    zeros = np.zeros(g * units, np.float32)
    if bias is None:
        wb, rb = zeros, zeros
    elif node.op == "GRU" and node.attrs.get("reset_after", True):
        wb, rb = bias[0], bias[1]
    else:
        wb, rb = bias, zeros
    return gates(kernel).T, gates(rec).T, np.concatenate([gates(wb), gates(rb)])


def _state(node: Node, k: int) -> str:
    """The k-th initial state input ('' if absent)."""
    i = 4 + k
    return node.inputs[i] if i < len(node.inputs) else ""


def _mask(node: Node) -> str:
    i = mask_index(node.op)
    return node.inputs[i] if i < len(node.inputs) else ""


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
                or other.inputs[0] != node.inputs[0] or _mask(other) != _mask(node)
                or _differs(node, other) != {"go_backwards"}
                or not other.attrs.get("go_backwards")
                or (other.outputs[0], _FUSED) in ctx.where
                or not ctx.is_const(other.inputs[2])
                or ctx.graph.constants[other.inputs[2]].shape[0] != rows):
            continue
        mine = [_state(node, k) for k in range(n_states)]
        theirs = [_state(other, k) for k in range(n_states)]
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
        emit_scan(ctx, node, _mask(node), [_state(node, k) for k in range(2)])
        return
    partner = _backward_partner(ctx, node)
    nodes = [node] if partner is None else [node, partner]
    for n in nodes:
        ctx.where[(n.outputs[0], _FUSED)] = ""
    _emit(ctx, nodes)


class _Compacted:
    """The index arithmetic of a mask (N, T) for moving each sequence's unmasked steps to its
    front; made once per mask and export (stacked recurrent layers share it)."""

    _made: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, ctx: ExportContext, mask: str, base: str) -> _Compacted:
        made = cls._made.setdefault(ctx, {})
        if mask not in made:
            made[mask] = cls(ctx, mask, base)
        return made[mask]

    def __init__(self, ctx: ExportContext, mask: str, base: str):
        keep = ctx.where.get((mask, BOOL_TM)) or ctx.add(
            "Cast", [ctx.get(mask, TM)], f"{base}/keep", to=BOOL)  # (T, N)
        ki = ctx.add("Cast", [keep], f"{base}/keep_i", to=INT64)
        zero = ctx.ints([0], "axis")
        self.ctx, self.keep, self.keep_i, self.base = ctx, keep, ki, base
        self.cs = ctx.add("CumSum", [ki, zero], f"{base}/kept_so_far")
        self.lens = ctx.reduce("ReduceSum", ki, [0], False, f"{base}/lens")  # (N,)
        dropped = ctx.add("CumSum", [ctx.add("Cast", [ctx.add("Not", [keep], f"{base}/drop")],
                                             f"{base}/drop_i", to=INT64), zero],
                          f"{base}/dropped_so_far")
        # kept step -> its rank among the kept; dropped step -> after all kept ones
        self.dest = ctx.add("Sub", [ctx.add("Where", [keep, self.cs, ctx.add(
            "Add", [self.lens, dropped], f"{base}/after")], f"{base}/dest1"),
            ctx.const(np.asarray(1, np.int64), "one")], f"{base}/dest")
        self.seq_lens = ctx.add("Cast", [self.lens], f"{base}/seq_lens", to=INT32)

    def compact(self, x: str, base: str) -> str:
        """Time-major ``x`` (T, N, F) with each sequence's unmasked steps first."""
        return self.ctx.add("ScatterElements", [x, self._spread_index(self.dest, x, base), x],
                            f"{base}/compacted", axis=0)

    def _spread_index(self, index: str, like: str, base: str) -> str:
        ctx = self.ctx
        col = ctx.add("Unsqueeze", [index, ctx.ints([-1], "axes")], f"{base}/index_col")
        return ctx.add("Expand", [col, ctx.add("Shape", [like], f"{base}/like_shape")],
                       f"{base}/index")

    def outputs(self, y: str, reverse: bool, zero_output: bool, base: str) -> str:
        """Per-step outputs (T, N, H) in input time order from the compacted outputs ``y``:
        a kept step gives its own output, a dropped one repeats the last output of the
        processing order (zero before any, or always with zero_output_for_mask)."""
        ctx = self.ctx
        if reverse:  # processed from the end: the next kept step's output
            index = ctx.add("Sub", [self.cs, self.keep_i], f"{base}/src")
            valid = self.keep if zero_output else ctx.add("Less", [index, self.lens],
                                                          f"{base}/valid")
        else:
            index = ctx.add("Sub", [self.cs, ctx.const(np.asarray(1, np.int64), "one")],
                            f"{base}/src")
            valid = self.keep if zero_output else ctx.add(
                "Greater", [self.cs, ctx.const(np.asarray(0, np.int64), "zero")],
                f"{base}/valid")
        safe = ctx.add("Where", [valid, index, ctx.const(np.asarray(0, np.int64), "zero")],
                       f"{base}/src_safe")
        picked = ctx.add("GatherElements", [y, self._spread_index(safe, y, base)],
                         f"{base}/picked", axis=0)
        gate = ctx.add("Unsqueeze", [ctx.add("Cast", [valid], f"{base}/valid_f", to=FLOAT),
                                     ctx.ints([-1], "axes")], f"{base}/gate")
        return ctx.add("Mul", [picked, gate], base)

    def last_gate(self, reverse: bool, zero_output: bool, base: str) -> str:
        """(N, 1) float: 1 where the last output of the processing order is the final state."""
        ctx = self.ctx
        if zero_output:  # the last processed step itself must be kept
            step = ctx.add("Gather", [self.keep, ctx.const(np.asarray(0 if reverse else -1,
                                                                      np.int64), "step")],
                           f"{base}/last_keep", axis=0)
        else:
            step = ctx.add("Greater", [self.lens, ctx.const(np.asarray(0, np.int64), "zero")],
                           f"{base}/any_kept")
        return ctx.add("Unsqueeze", [ctx.add("Cast", [step], f"{base}/last_f", to=FLOAT),
                                     ctx.ints([-1], "axes")], f"{base}/last_gate")


def _pick(ctx: ExportContext, t: str, d: int, axis: int, n_dirs: int, base: str) -> str:
    """Direction ``d`` of a native output: drop the num_directions axis."""
    if n_dirs == 1:
        return ctx.add("Squeeze", [t, ctx.ints([axis], "axes")], base)
    return ctx.add("Gather", [t, ctx.const(np.asarray(d, np.int64), "direction")], base,
                   axis=axis)


def _initial(ctx: ExportContext, nodes: list[Node], k: int, base: str) -> str:
    """initial_h (k=0) / initial_c (k=1): [D, N, u], or '' when the layer has none."""
    states = [_state(n, k) for n in nodes]
    if not all(states):
        return ""
    cols = [ctx.add("Unsqueeze", [ctx.get(s, CL), ctx.ints([0], "axes")], f"{base}/init{k}")
            for s in states]
    return cols[0] if len(cols) == 1 else ctx.add("Concat", cols, f"{base}/init{k}", axis=0)


def _emit(ctx: ExportContext, nodes: list[Node]) -> None:
    first = nodes[0]
    base = first.outputs[0]
    n_dirs = len(nodes)
    is_lstm = first.op == "LSTM"
    mask = _mask(first)
    weights = [_weights(ctx, n) for n in nodes]
    units = weights[0][1].shape[1]
    has_bias = any(n.inputs[3] for n in nodes)
    x = ctx.get(first.inputs[0], TM)
    packed = _Compacted.of(ctx, mask, f"{base}/mask") if mask else None
    acts, alphas, betas = _activations(first)
    attrs: dict[str, Any] = {"hidden_size": int(units), "activations": acts * n_dirs,
                             "direction": "bidirectional" if n_dirs == 2 else (
                                 "reverse" if first.attrs.get("go_backwards") else "forward")}
    if alphas:
        attrs["activation_alpha"] = alphas * n_dirs
    if betas:
        attrs["activation_beta"] = betas * n_dirs
    if first.op == "GRU":
        attrs["linear_before_reset"] = int(bool(first.attrs.get("reset_after", True)))
    inputs = [packed.compact(x, base) if packed else x,
              ctx.const(np.stack([w[0] for w in weights]), f"{base}/W"),
              ctx.const(np.stack([w[1] for w in weights]), f"{base}/R"),
              ctx.const(np.stack([w[2] for w in weights]), f"{base}/B") if has_bias else "",
              packed.seq_lens if packed else "",
              _initial(ctx, nodes, 0, base)]
    if is_lstm:
        inputs.append(_initial(ctx, nodes, 1, base))
    while inputs[-1] == "":
        inputs.pop()
    sequences = bool(first.attrs.get("return_sequences"))
    need_y = sequences and any(used(ctx, n.outputs[0]) for n in nodes)
    need_c = is_lstm and any(used(ctx, n.outputs[2]) for n in nodes)
    outs = [ctx.fresh(f"{base}/Y") if need_y else "", ctx.fresh(f"{base}/Y_h")]
    if need_c:
        outs.append(ctx.fresh(f"{base}/Y_c"))
    ctx.nodes.append(ctx.helper.make_node(_ONNX_OP[first.op], inputs, outs,
                                          name=ctx.fresh(f"{base}/op"), **attrs))
    for d, n in enumerate(nodes):
        _direction_outputs(ctx, n, d, n_dirs, outs, packed)


def _direction_outputs(ctx: ExportContext, node: Node, d: int, n_dirs: int, outs: list[str],
                       packed: _Compacted | None) -> None:
    """Set the IR outputs of one direction: the sequence (time-major) or last output, then
    the final states."""
    reverse = bool(node.attrs.get("go_backwards"))
    zero_output = bool(node.attrs.get("zero_output_for_mask"))
    y_out = node.outputs[0]
    h = _pick(ctx, outs[1], d, 0, n_dirs, f"{y_out}/h") if used(ctx, node.outputs[1]) or (
        not node.attrs.get("return_sequences") and used(ctx, y_out)) else ""
    states = [h]
    if node.op == "LSTM" and used(ctx, node.outputs[2]):
        states.append(_pick(ctx, outs[2], d, 0, n_dirs, f"{y_out}/c"))
    if used(ctx, y_out):
        if node.attrs.get("return_sequences"):
            y = _pick(ctx, outs[0], d, 1, n_dirs, f"{y_out}/seq")
            if packed:
                y = packed.outputs(y, reverse, zero_output, f"{y_out}/steps")
            _set_sequence(ctx, y_out, y, reverse)
        else:
            last = h
            if packed:
                last = ctx.add("Mul", [h, packed.last_gate(reverse, zero_output, y_out)],
                               f"{y_out}/last")
            ctx.set(y_out, last, CL)
    for k, s in enumerate(states):
        value = node.outputs[1 + k]
        if not used(ctx, value):
            continue
        init = _state(node, k)
        if packed and init:  # ONNX gives zeros for an all-masked sequence, Keras the state
            any_kept = ctx.add("Unsqueeze", [ctx.add("Greater", [packed.lens, ctx.const(
                np.asarray(0, np.int64), "zero")], f"{value}/any"), ctx.ints([-1], "axes")],
                f"{value}/any_col")
            s = ctx.add("Where", [any_kept, s, ctx.get(init, CL)], f"{value}/or_initial")
        ctx.set(value, s, CL)


def _set_sequence(ctx: ExportContext, value: str, y: str, reverse: bool) -> None:
    """Record a time-major sequence output. ONNX gives a go_backwards sequence in input time
    order; Keras' order (processing order) is its reverse, built only if something other than
    a Reverse reads it."""
    if not reverse:
        ctx.set(value, y, TM)
        return
    ctx.where[(value, "tm_reversed")] = y
    readers = [n for n in ctx.graph.nodes if value in n.inputs]
    if value in ctx.graph.outputs or any(
            n.op != "Reverse" or int(n.attrs.get("axis", 1)) % 3 != 1 for n in readers):
        ctx.set(value, reverse_axis(ctx, y, 0, f"{value}/processing_order"), TM)
