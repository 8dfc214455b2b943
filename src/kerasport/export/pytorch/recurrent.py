"""Recurrent layers: nn.LSTM, nn.GRU and nn.RNN where their semantics are Keras' exactly
(default activations, no mask; GRU with reset_after, its gates reordered from Keras' (z, r, h)
to torch's (r, z, n)); otherwise ``KerasRNN``, a short loop over time with Keras' weights,
activations and mask rule (a masked step keeps the state and repeats the last output)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import emitter, py, pylist, torch_weight_conv
from kerasport.ir.graph import Node
from kerasport.ops import get_op

TANH, SIGMOID = {"op": "Tanh"}, {"op": "Sigmoid"}
_CELL = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
# activation spec -> the name ``keras_activation`` (generated) knows it by
_NAMES = {("Tanh", ()): "tanh", ("Sigmoid", ()): "sigmoid", ("Relu", ()): "relu",
          ("HardSigmoid", ()): "hard_sigmoid",
          ("HardSigmoid", (("slope", 0.2),)): "hard_sigmoid_0.2",
          ("Elu", ()): "elu", ("Selu", ()): "selu", ("Softsign", ()): "softsign",
          ("Softplus", ()): "softplus", ("Silu", ()): "silu", ("Gelu", ()): "gelu",
          ("Exp", ()): "exp", ("Relu", (("max_value", 6.0),)): "relu6"}


def activation_name(spec: dict[str, Any] | None, node: Node) -> str:
    """The ``keras_activation`` name of an activation spec; refuses others by layer."""
    if spec is None:
        return "linear"
    params = inspect.signature(get_op(spec["op"]).kernel).parameters
    attrs = tuple(sorted((k, v) for k, v in spec.items()
                         if k != "op" and (k not in params or params[k].default != v)))
    name = _NAMES.get((spec["op"], attrs))
    if name is None:
        raise KerasportError(f"layer '{node.layer}': the recurrent activation {spec} has no "
                             "PyTorch form in kerasport yet")
    return name


def _inputs(node: Node) -> dict[str, str]:
    names = ["x", "kernel", "recurrent_kernel", "bias", "h0"] + (
        ["c0"] if node.op == "LSTM" else []) + ["mask"]
    return {k: v for k, v in zip(names, node.inputs) if v}


def _native(node: Node, a: dict[str, Any], ins: dict[str, str]) -> bool:
    if "mask" in ins or a["activation"] != TANH:
        return False
    if node.op == "SimpleRNN":
        return True
    return a["recurrent_activation"] == SIGMOID and (node.op == "LSTM" or a["reset_after"])


def _torch_gates(node: Node, w: np.ndarray, units: int) -> np.ndarray:
    """Keras gate blocks (last axis) in torch's order, transposed to (gates*units, in)."""
    if node.op == "GRU":
        z, r, h = (w[..., i * units:(i + 1) * units] for i in range(3))
        w = np.concatenate([r, z, h], axis=-1)
    return np.ascontiguousarray(w.T)


@emitter("SimpleRNN", "LSTM", "GRU")
def emit_recurrent(ctx: ModuleContext, node: Node) -> None:
    """nn.RNN / nn.LSTM / nn.GRU (batch_first) or ``KerasRNN``."""
    a = ctx.attrs(node)
    ins = _inputs(node)
    for key in ("kernel", "recurrent_kernel", "bias"):
        if key in ins and not ctx.is_const(ins[key]):
            raise KerasportError(f"layer '{node.layer}': computed recurrent weights have no "
                                 "PyTorch form")
    kernel, rec = ctx.const(ins["kernel"]), ctx.const(ins["recurrent_kernel"])
    bias = ctx.const(ins["bias"]) if "bias" in ins else None
    units, feat = rec.shape[0], kernel.shape[0]
    x = ctx.get(ins["x"], "cl")
    if _native(node, a, ins):
        _emit_native(ctx, node, a, ins, x, (kernel, rec, bias), units, feat)
    else:
        _emit_loop(ctx, node, a, ins, x, (kernel, rec, bias), units, feat)


def _emit_native(ctx: ModuleContext, node: Node, a: dict[str, Any], ins: dict[str, str],
                 x: str, weights: tuple, units: int, feat: int) -> None:
    kernel, rec, bias = weights
    cls = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}[node.op]
    state = {"weight_ih_l0": _torch_gates(node, kernel, units),
             "weight_hh_l0": _torch_gates(node, rec, units)}
    args = f"{feat}, {units}, batch_first=True"
    if bias is None:
        args += ", bias=False"
    else:
        b_ih, b_hh = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
        state["bias_ih_l0"] = _torch_gates(node, b_ih, units)
        state["bias_hh_l0"] = _torch_gates(node, b_hh, units)
    mod = ctx.module(node, f"nn.{cls}({args})", {k: v.astype(np.float32)
                                                  for k, v in state.items()})
    if a["go_backwards"]:
        x = f"torch.flip({x}, [1])"
    states = [f"{ctx.get(ins[k], 'cl')}.unsqueeze(0)" for k in ("h0", "c0") if k in ins]
    base = ctx.base_name(node)
    outs = list(node.outputs) + [""] * (3 - len(node.outputs))
    seq = ctx.vars.new(f"{base}_seq")
    h = ctx.out_var(outs[1], f"{base}_h")
    arg = f", {states[0]}" if states else ""
    if node.op == "LSTM":
        c = ctx.out_var(outs[2], f"{base}_c")
        arg = f", ({states[0]}, {states[1]})" if len(states) == 2 else ""
        state = "_" if h == c == "_" else f"({h}, {c})"
        ctx.line(f"{seq}, {state} = {mod}({x}{arg})")
        ctx.bind(outs[2] if c != "_" else "", f"{c}[0]")
    else:
        ctx.line(f"{seq}, {h} = {mod}({x}{arg})")
    ctx.bind(outs[0], seq if a["return_sequences"] else f"{seq}[:, -1]")
    ctx.bind(outs[1] if h != "_" else "", f"{h}[0]")


def _emit_loop(ctx: ModuleContext, node: Node, a: dict[str, Any], ins: dict[str, str],
               x: str, weights: tuple, units: int, feat: int) -> None:
    kernel, rec, bias = weights
    gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[node.op]
    reset_after = node.op == "GRU" and bool(a.get("reset_after", True))
    if bias is None:
        bias = np.zeros((2, gates * units) if reset_after else (gates * units,), np.float32)
    args = [repr(_CELL[node.op]), str(feat), str(units),
            f"activation={activation_name(a['activation'], node)!r}"]
    if node.op != "SimpleRNN":
        args.append(f"recurrent_activation="
                    f"{activation_name(a['recurrent_activation'], node)!r}")
    if node.op == "GRU":
        args.append(f"reset_after={py(reset_after)}")
    for key in ("go_backwards", "return_sequences", "zero_output_for_mask"):
        if a.get(key):
            args.append(f"{key}=True")
    ctx.helper("KerasRNN")
    mod = ctx.module(node, f"KerasRNN({', '.join(args)})",
                     {"kernel": kernel.astype(np.float32), "recurrent_kernel": rec.astype(
                         np.float32), "bias": bias.astype(np.float32)})
    call = [x] + [f"{k}={ctx.get(ins[k], 'cl')}" for k in ("h0", "c0", "mask") if k in ins]
    base = ctx.base_name(node)
    names = list(node.outputs) + [""] * (3 - len(node.outputs))
    outs = [ctx.vars.new(base)] + [ctx.out_var(n, f"{base}_{s}")
                                   for n, s in zip(names[1:], ("h", "c"))]
    ctx.line(f"{', '.join(outs)} = {mod}({', '.join(call)})")
    for name, var in zip(names, outs):
        ctx.bind(name if var != "_" else "", var)


@emitter("ConvLSTM")
def emit_conv_lstm(ctx: ModuleContext, node: Node) -> None:
    """``KerasConvLSTM``: torch has no convolutional LSTM layer."""
    a = ctx.attrs(node)
    names = ["x", "kernel", "recurrent_kernel", "bias", "h0", "c0", "mask"]
    ins = {k: v for k, v in zip(names, node.inputs) if v}
    for key in ("kernel", "recurrent_kernel", "bias"):
        if key in ins and not ctx.is_const(ins[key]):
            raise KerasportError(f"layer '{node.layer}': computed recurrent weights have no "
                                 "PyTorch form")
    kernel, rec = ctx.const(ins["kernel"]), ctx.const(ins["recurrent_kernel"])
    r = kernel.ndim - 2
    filters = rec.shape[-2]
    bias = ctx.const(ins["bias"]) if "bias" in ins else np.zeros(4 * filters, np.float32)
    if a["padding"] not in ("same", "valid"):
        raise KerasportError(f"layer '{node.layer}': padding {a['padding']!r}")
    args = [str(kernel.shape[-2]), str(filters), pylist(kernel.shape[:r]),
            pylist(a["strides"]), pylist(a["dilations"]), repr(a["padding"]),
            f"activation={activation_name(a['activation'], node)!r}",
            f"recurrent_activation={activation_name(a['recurrent_activation'], node)!r}"]
    for key in ("go_backwards", "return_sequences", "zero_output_for_mask"):
        if a.get(key):
            args.append(f"{key}=True")
    ctx.helper("KerasConvLSTM")
    mod = ctx.module(node, f"KerasConvLSTM({', '.join(args)})",
                     {"weight": torch_weight_conv(kernel).astype(np.float32),
                      "recurrent_weight": torch_weight_conv(rec).astype(np.float32),
                      "bias": bias.astype(np.float32)})
    call = [ctx.get(ins["x"], "cl")] + [f"{k}={ctx.get(ins[k], 'cl')}"
                                        for k in ("h0", "c0", "mask") if k in ins]
    base = ctx.base_name(node)
    names = list(node.outputs) + [""] * (3 - len(node.outputs))
    outs = [ctx.vars.new(base)] + [ctx.out_var(n, f"{base}_{s}")
                                   for n, s in zip(names[1:], ("h", "c"))]
    ctx.line(f"{', '.join(outs)} = {mod}({', '.join(call)})")
    for name, var in zip(names, outs):
        ctx.bind(name if var != "_" else "", var)
