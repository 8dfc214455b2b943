"""SimpleRNN, LSTM and GRU as the native ONNX RNN, LSTM and GRU ops (see recurrent.py for the
Keras -> ONNX mapping): weights with the gates reordered, activations, the op itself and its
outputs per direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CL, TM, ExportContext
from kerasport.export.onnx.mask_compaction import Compacted
from kerasport.export.onnx.timemajor import mask_index, reverse_axis, used
from kerasport.ir.graph import Node
from kerasport.ops.recurrent import SIGMOID, TANH

_ONNX_OP = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


_ORDER = {"SimpleRNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [0, 1, 2]}


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


def _pick(ctx: ExportContext, t: str, d: int, axis: int, n_dirs: int, base: str) -> str:
    """Direction ``d`` of a native output: drop the num_directions axis."""
    if n_dirs == 1:
        return ctx.add("Squeeze", [t, ctx.ints([axis], "axes")], base)
    return ctx.add("Gather", [t, ctx.const(np.asarray(d, np.int64), "direction")], base,
                   axis=axis)


def _initial(ctx: ExportContext, nodes: list[Node], k: int, base: str) -> str:
    """initial_h (k=0) / initial_c (k=1): [D, N, u], or '' when the layer has none."""
    states = [state_input(n, k) for n in nodes]
    if not all(states):
        return ""
    cols = [ctx.add("Unsqueeze", [ctx.get(s, CL), ctx.ints([0], "axes")], f"{base}/init{k}")
            for s in states]
    return cols[0] if len(cols) == 1 else ctx.add("Concat", cols, f"{base}/init{k}", axis=0)


def emit_native(ctx: ExportContext, nodes: list[Node]) -> None:
    """One native ONNX RNN / LSTM / GRU op for ``nodes``: one recurrent IR node, or the forward
    and backward halves of a Bidirectional layer (one bidirectional op)."""
    first = nodes[0]
    base = first.outputs[0]
    n_dirs = len(nodes)
    is_lstm = first.op == "LSTM"
    mask = mask_value(first)
    weights = [_weights(ctx, n) for n in nodes]
    units = weights[0][1].shape[1]
    has_bias = any(n.inputs[3] for n in nodes)
    x = ctx.get(first.inputs[0], TM)
    packed = Compacted.of(ctx, mask, f"{base}/mask") if mask else None
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
                       packed: Compacted | None) -> None:
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
        init = state_input(node, k)
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
    ctx.held.input_order[value] = y
    readers = [n for n in ctx.graph.nodes if value in n.inputs]
    if value in ctx.graph.outputs or any(
            n.op != "Reverse" or int(n.attrs.get("axis", 1)) % 3 != 1 for n in readers):
        ctx.set(value, reverse_axis(ctx, y, 0, f"{value}/processing_order"), TM)


def state_input(node: Node, k: int) -> str:
    """The k-th initial state input ('' if absent)."""
    i = 4 + k
    return node.inputs[i] if i < len(node.inputs) else ""


def mask_value(node: Node) -> str:
    """The recurrent op's mask input ('' if absent)."""
    i = mask_index(node.op)
    return node.inputs[i] if i < len(node.inputs) else ""
