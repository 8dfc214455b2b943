"""LSTM, GRU and RNN (forward, reverse, bidirectional; layout 0 or 1; sequence_lens as a
mask) as the IR's batch-major recurrent ops, one per direction. ONNX's gate orders become
Keras' (LSTM iofc -> ifco, GRU zrh as is), the two ONNX biases one (GRU with
linear_before_reset keeps both, as Keras' reset_after). Time-major sequences are held
batch-major (an order, not a transpose), so the Transposes PyTorch puts around them cost
nothing."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported
from kerasport.onnx_reader.helpers import optional
from kerasport.onnx_reader.registry import converter

_ACTS = {"Tanh": {"op": "Tanh"}, "Sigmoid": {"op": "Sigmoid"}, "Relu": {"op": "Relu"}}
_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"],
                 "RNN": ["Tanh"]}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _blocks(a: np.ndarray, order: list[int], n: int) -> np.ndarray:
    parts = np.split(a, n, axis=0)
    return np.concatenate([parts[i] for i in order], axis=0)


def _weights(op: str, w: np.ndarray, r: np.ndarray, b: np.ndarray | None, lbr: bool,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keras kernel (I, G*H), recurrent kernel (H, G*H) and bias of one direction."""
    g = _GATES[op]
    h = r.shape[-1]
    b = np.zeros(2 * g * h, np.float32) if b is None else b
    wb, rb = b[:g * h], b[g * h:]
    order = [0, 2, 3, 1] if op == "LSTM" else list(range(g))
    kernel = _blocks(w, order, g).T
    rec = _blocks(r, order, g).T
    if op == "GRU" and lbr:
        bias = np.stack([wb, rb])
    else:
        bias = _blocks(wb + rb, order, g)
    return (np.ascontiguousarray(kernel, np.float32), np.ascontiguousarray(rec, np.float32),
            np.asarray(bias, np.float32))


def _activations(op: str, attrs: dict[str, Any], dirs: int) -> list[dict]:
    names = [a if isinstance(a, str) else a.decode() for a in attrs.get("activations", [])]
    names = names or _DEFAULT_ACTS[op] * dirs
    if any(n not in _ACTS for n in names) or attrs.get("activation_alpha") or attrs.get(
            "activation_beta"):
        raise Unsupported(f"activations {names} (Tanh, Sigmoid and Relu are supported)")
    return [_ACTS[n] for n in names]


def _check(ctx: ReadContext, node: Any, attrs: dict[str, Any], steps: Any) -> None:
    if attrs.get("clip") is not None:
        raise Unsupported("cell clipping is not supported")
    if attrs.get("input_forget", 0):
        raise Unsupported("input_forget is not supported")
    if node.op_type == "LSTM" and optional(node, 7):
        peep = ctx.const(optional(node, 7), "the peepholes")
        if np.any(peep):
            raise Unsupported("peepholes are not supported")
    if optional(node, 4) and steps is None:
        raise Unsupported("sequence_lens with a free sequence length")


def _mask(ctx: ReadContext, node: Any, steps: int | None) -> str:
    """An (N, T) boolean mask ``t < sequence_lens[n]`` ("" when every sequence is full)."""
    lens = optional(node, 4)
    if not lens or (ctx.is_const(lens) and np.all(np.asarray(ctx.const(lens)) == steps)):
        return ""
    column = ctx.op("ExpandDims", [ctx.ir(lens)], f"{ctx.layer}/lens", {"axis": 1})
    column = ctx.op("Cast", [column], f"{ctx.layer}/lens64", {"dtype": "int64"})
    steps_row = ctx.ir_const(f"{ctx.layer}/steps", np.arange(steps, dtype=np.int64)[None])
    return ctx.op("Compare", [steps_row, column], f"{ctx.layer}/mask", {"mode": "less"})


def _initial(ctx: ReadContext, name: str, d: int, layout: int, tag: str) -> str:
    if not name:
        return ""
    if ctx.is_const(name):
        arr = np.asarray(ctx.const(name), np.float32)
        if not np.any(arr):
            return ""  # zeros: the IR op's default
        return ctx.ir_const(f"{ctx.layer}/{tag}{d}", arr[:, d] if layout else arr[d])
    index = ctx.ir_const(f"{ctx.layer}/{tag}{d}/index", np.asarray(d, np.int64))
    return ctx.op("Take", [ctx.ir(name), index], f"{ctx.layer}/{tag}{d}",
                  {"axis": 1 if layout else 0})


def _one_direction(ctx: ReadContext, node: Any, attrs: dict, x: str, d: int, acts: list,
                   reverse: bool, mask: str) -> list[str]:
    op = node.op_type
    w, r = ctx.const(node.input[1], "W")[d], ctx.const(node.input[2], "R")[d]
    b = optional(node, 3)
    kernel, rec, bias = _weights(op, np.asarray(w, np.float32), np.asarray(r, np.float32),
                                 None if not b else np.asarray(ctx.const(b, "B")[d], np.float32),
                                 bool(attrs.get("linear_before_reset", 0)))
    layout = int(attrs.get("layout", 0))
    name = f"{ctx.layer}/{'backward' if reverse else 'forward'}"
    ins = [x, ctx.ir_const(f"{name}/kernel", kernel), ctx.ir_const(f"{name}/recurrent", rec),
           ctx.ir_const(f"{name}/bias", bias), _initial(ctx, optional(node, 5), d, layout, "h")]
    ir_attrs: dict[str, Any] = {"return_sequences": True, "go_backwards": reverse,
                                "activation": acts[-1], "zero_output_for_mask": bool(mask)}
    if op == "LSTM":
        ins.append(_initial(ctx, optional(node, 6), d, layout, "c"))
        ir_attrs["activation"], ir_attrs["recurrent_activation"] = acts[1], acts[0]
    elif op == "GRU":
        ir_attrs["activation"], ir_attrs["recurrent_activation"] = acts[1], acts[0]
        ir_attrs["reset_after"] = bool(attrs.get("linear_before_reset", 0))
    if mask:  # masked steps carry the state and output zeros, as ONNX's sequence_lens
        ins.append(mask)
    n_out = 3 if op == "LSTM" else 2
    outs = ctx.op({"RNN": "SimpleRNN"}.get(op, op), ins, name, ir_attrs, n_out=n_out)
    if reverse:  # Keras' go_backwards returns the steps in processing order
        outs[0] = ctx.op("Reverse", [outs[0]], f"{name}/reversed", {"axis": 1})
    return outs


def _stack(ctx: ReadContext, parts: list[str], axis: int, name: str) -> str:
    expanded = [ctx.op("ExpandDims", [p], f"{name}/{i}", {"axis": axis})
                for i, p in enumerate(parts)]
    if len(expanded) == 1:
        return expanded[0]
    return ctx.op("Concat", expanded, name, {"axis": axis})


@converter("LSTM", "GRU", "RNN")
def recurrent(ctx: ReadContext, node: Any, attrs: dict[str, Any]) -> None:
    """One IR recurrent op per direction; Y, Y_h (and Y_c) stacked as ONNX lays them out."""
    direction = attrs.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    layout = int(attrs.get("layout", 0))
    x = node.input[0]
    shape = ctx.shape(x)
    steps = None if shape is None else shape[layout]
    _check(ctx, node, attrs, steps)
    acts = _activations(node.op_type, attrs, dirs)
    per = len(acts) // dirs
    xi = ctx.ir(x, (1, 0, 2) if layout == 0 else (0, 1, 2))
    mask = _mask(ctx, node, steps)
    runs = [_one_direction(ctx, node, attrs, xi, d, acts[d * per:(d + 1) * per],
                           direction == "reverse" or d == 1, mask) for d in range(dirs)]
    names = list(node.output) + [""] * 3
    if names[0]:
        y = _stack(ctx, [r[0] for r in runs], 2, names[0])
        ctx.set(names[0], y, (2, 0, 1, 3) if layout == 0 else None)
    for k, o in ((1, names[1]), (2, names[2])):
        if o:
            s = _stack(ctx, [r[k] for r in runs], 1, o)
            ctx.set(o, s, (1, 0, 2) if layout == 0 else None)
