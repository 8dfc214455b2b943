"""Recurrent layers: SimpleRNN, LSTM, GRU (return_sequences, return_state, go_backwards,
initial_state), Bidirectional (every merge_mode, backward_layer), and the sequence helpers
Embedding, RepeatVector and TimeDistributed."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.keras.activation_table import activation_spec, recurrent_activations
from kerasport.keras.config import (
    MODEL_CLASSES,
    LayerSpec,
    flatten_refs,
    normalise_layer_config,
    parse_model,
)
from kerasport.keras.registry import LayerContext, find_converter, register_converter
from kerasport.keras.weights import saving_names

_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def initial_states(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Initial states given as extra call tensors (Keras 2) or initial_state= (Keras 3)."""
    if len(inputs) > 1:
        return inputs[1:]
    refs = flatten_refs(ctx.call.kwargs.get("initial_state"))
    assert ctx.resolve is not None
    return [ctx.resolve(r) for r in refs]


def _rnn(ctx: LayerContext, cls: str, cfg: dict[str, Any], x: str, weights: list[np.ndarray],
         states: list[str], suffix: str | None, go_backwards: bool,
         zero_output_for_mask: bool = False, mask: str | None = "input") -> list[str]:
    """One recurrent op; returns [outputs, *final states]. The input's Keras mask (if any)
    makes masked steps carry the state over."""
    attrs: dict[str, Any] = {
        "activation": activation_spec(cfg.get("activation", "tanh"), ctx.keras_major),
        "return_sequences": bool(cfg.get("return_sequences", False)),
        "go_backwards": go_backwards}
    if mask == "input":
        mask = ctx.input_masks[0] if ctx.input_masks else None
    if mask and (zero_output_for_mask or cfg.get("zero_output_for_mask")):
        attrs["zero_output_for_mask"] = True
    if cls != "SimpleRNN":
        attrs["recurrent_activation"] = activation_spec(
            cfg.get("recurrent_activation", "sigmoid"), ctx.keras_major)
    if cls == "GRU":
        attrs["reset_after"] = bool(cfg.get("reset_after", True))
    base = f"{suffix}/" if suffix else ""
    names = ["kernel", "recurrent_kernel", "bias"]
    args = [x] + [ctx.const(f"{base}{n}", w) for n, w in zip(names, weights)]
    if len(weights) == 2:
        args.append("")
    n_states = _STATES[cls]
    if states:
        ctx.require(len(states) == n_states, None,
                    f"{cls} takes {n_states} initial states, got {len(states)}")
        args += states
    else:
        args += [""] * n_states
    if mask:
        args.append(mask)
    outs = ctx.op(cls, args, suffix, n_out=1 + n_states, **attrs)
    return list(outs)


def sequence_mask(ctx: LayerContext, return_sequences: bool, n_outputs: int) -> None:
    """Keras RNNs keep the input mask on a returned sequence and give states none."""
    mask = ctx.input_masks[0] if ctx.input_masks else None
    ctx.output_masks = [mask if return_sequences else None] + [None] * (n_outputs - 1)


def check_rnn_config(ctx: LayerContext, cfg: dict[str, Any]) -> None:
    ctx.require(not cfg.get("stateful"), "stateful", "stateful RNNs are not supported",
                "save the model with stateful=False and pass states as initial_state")
    ctx.require(not cfg.get("time_major"), "time_major", "time_major RNNs are not supported")
    for act in ("activation", "recurrent_activation"):
        name = cfg.get(act)
        ctx.require(name is None or name in recurrent_activations(), act,
                    f"{act} {name!r} is not supported in recurrent layers",
                    f"use one of {', '.join(recurrent_activations())}")


def _rnn_weights(ctx: LayerContext, cls: str, cfg: dict[str, Any], n_in: int,
                 stored: list[np.ndarray]) -> list[np.ndarray]:
    units = int(cfg["units"])
    g = _GATES[cls]
    bias_shape = (2, g * units) if cls == "GRU" and cfg.get("reset_after", True) else (
        g * units,)
    want = [(n_in, g * units), (units, g * units), bias_shape][:len(stored)]
    expected = 3 if cfg.get("use_bias", True) else 2
    ctx.require(len(stored) == expected, None,
                f"{cls} has {len(stored)} stored weights, its config needs {expected}")
    for arr, shape in zip(stored, want):
        ctx.require(tuple(arr.shape) == shape, None,
                    f"{cls} weight of shape {arr.shape} does not fit the config ({shape})")
    return [np.asarray(a, np.float32) for a in stored]


@register_converter("SimpleRNN", "LSTM", "GRU", mask="own")
def convert_rnn(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """SimpleRNN / LSTM / GRU with every option and masks; [y] or [y, *states]."""
    cfg = ctx.config
    check_rnn_config(ctx, cfg)
    shape = ctx.shape(inputs[0])
    ctx.require(shape is not None and len(shape) == 3 and shape[-1] is not None, None,
                "the input must be (batch, time, features) with known features")
    weights = _rnn_weights(ctx, ctx.class_name, cfg, shape[-1], [a for _, a in ctx.weights])
    outs = _rnn(ctx, ctx.class_name, cfg, inputs[0], weights, initial_states(ctx, inputs),
                None, bool(cfg.get("go_backwards", False)))
    outs = outs if cfg.get("return_state") else outs[:1]
    sequence_mask(ctx, bool(cfg.get("return_sequences")), len(outs))
    return outs


_CELLS = {"SimpleRNNCell": "SimpleRNN", "LSTMCell": "LSTM", "GRUCell": "GRU"}


def _cell_weights(ctx: LayerContext, cells: list[tuple[str, dict[str, Any]]],
                  stored: list[tuple[str | None, np.ndarray]]) -> list[list[np.ndarray]]:
    """Each stacked cell's weights. A .keras file keeps them in groups named by Keras' saving
    walk (``cells/gru_cell_1/vars/0``; HDF5 lists those alphabetically, so they are matched
    by name); an .h5 file lists them in cell order."""
    paths = [p or "" for p, _ in stored]
    if paths and all("cells/" in p and "/vars/" in p for p in paths):
        groups: dict[str, list[np.ndarray]] = {}
        for path, (_, arr) in zip(paths, stored):
            groups.setdefault(path.split("cells/", 1)[1].split("/")[0], []).append(arr)
        names = saving_names([cls for cls, _ in cells], ctx.keras_major)
        return [groups.get(name, []) for name in names]
    out, start = [], 0
    for _, cfg in cells:
        n = 3 if cfg.get("use_bias", True) else 2
        out.append([a for _, a in stored[start:start + n]])
        start += n
    return out


@register_converter("RNN", mask="own")
def convert_rnn_layer(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """RNN(cell): SimpleRNNCell, LSTMCell, GRUCell, or StackedRNNCells of them.

    A stack of cells runs as a chain of recurrent ops over the whole sequence (equal to the
    step-by-step stack; masked steps keep every cell's state)."""
    cfg = ctx.config
    check_rnn_config(ctx, cfg)
    cell_cls, cell_cfg = _inner(cfg["cell"])
    stacked = cell_cls == "StackedRNNCells"
    cells = [_inner(c) for c in cell_cfg.get("cells", [])] if stacked else [(cell_cls, cell_cfg)]
    for cls, ccfg in cells:
        ctx.require(cls in _CELLS, "cell", f"RNN cell {cls} is not supported",
                    "use SimpleRNNCell, LSTMCell, GRUCell or StackedRNNCells of them")
        check_rnn_config(ctx, ccfg)
    ctx.require(bool(cells), "cell", "StackedRNNCells holds no cells")
    per_cell = _cell_weights(ctx, cells, ctx.weights) if stacked else [
        [a for _, a in ctx.weights]]
    states = initial_states(ctx, inputs)
    mask = ctx.input_masks[0] if ctx.input_masks else None
    go_backwards = bool(cfg.get("go_backwards", False))
    x, final_states, used = inputs[0], [], 0
    for i, (cls, ccfg) in enumerate(cells):
        layer_cls = _CELLS[cls]
        last = i == len(cells) - 1
        rcfg = {**ccfg, "return_sequences": bool(cfg.get("return_sequences")) if last else True,
                "zero_output_for_mask": cfg.get("zero_output_for_mask")}
        weights = _rnn_weights(ctx, layer_cls, rcfg, ctx.shape(x)[-1], per_cell[i])
        n_states = _STATES[layer_cls]
        given = states[used:used + n_states] if states else []
        used += n_states
        # after the first cell the sequence is in processing order: reverse the mask too
        cell_mask = mask if i == 0 or not go_backwards or not mask else ctx.op(
            "Reverse", [mask], "mask_reversed", axis=1)
        outs = _rnn(ctx, layer_cls, rcfg, x, weights, given, f"cell{i}" if stacked else None,
                    go_backwards if i == 0 else False, mask=cell_mask)
        x = outs[0]
        final_states += outs[1:]
    outs = [x, *final_states] if cfg.get("return_state") else [x]
    sequence_mask(ctx, bool(cfg.get("return_sequences")), len(outs))
    return outs


def _inner(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cls = raw.get("class_name")
    return cls, normalise_layer_config(cls, raw.get("config", {}))


@register_converter("Bidirectional", mask="own")
def convert_bidirectional(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Forward and backward RNN, merged by concat/sum/mul/ave or returned apart (None)."""
    cfg = ctx.config
    fwd_cls, fwd_cfg = _inner(cfg["layer"])
    bwd_cls, bwd_cfg = _inner(cfg["backward_layer"]) if cfg.get("backward_layer") else (
        fwd_cls, {**fwd_cfg, "go_backwards": not fwd_cfg.get("go_backwards", False)})
    for cls in (fwd_cls, bwd_cls):
        ctx.require(cls in _GATES, "layer", f"Bidirectional around {cls} is not supported",
                    "wrap SimpleRNN, LSTM or GRU")
    check_rnn_config(ctx, fwd_cfg)
    x = inputs[0]
    n_in = ctx.shape(x)[-1]
    stored = ctx.weights
    # .keras: forward_layer/... and backward_layer/...; .h5: forward_<name>/... and the
    # backward layer under its own name
    own = f"{ctx.layer_name}/"  # the layer's own name may hold "forward" too
    inner = [((p or "")[len(own):] if (p or "").startswith(own) else p or "", a)
             for p, a in stored]
    fwd = [a for p, a in inner if "forward" in p]
    bwd = [a for p, a in inner if "forward" not in p]
    if not fwd:  # unnamed: forward weights come first
        half = len(stored) // 2
        fwd, bwd = [a for _, a in stored[:half]], [a for _, a in stored[half:]]
    fw = _rnn_weights(ctx, fwd_cls, fwd_cfg, n_in, fwd)
    bw = _rnn_weights(ctx, bwd_cls, bwd_cfg, n_in, bwd)
    states = initial_states(ctx, inputs)
    half = len(states) // 2
    # tf_keras' Bidirectional zeroes the outputs of masked steps of returned sequences
    zero = ctx.keras_major < 3 and bool(fwd_cfg.get("return_sequences"))
    f_out = _rnn(ctx, fwd_cls, fwd_cfg, x, fw, states[:half], "forward",
                 bool(fwd_cfg.get("go_backwards", False)), zero)
    b_out = _rnn(ctx, bwd_cls, bwd_cfg, x, bw, states[half:], "backward",
                 bool(bwd_cfg.get("go_backwards", True)), zero)
    y, y_rev = f_out[0], b_out[0]
    if fwd_cfg.get("return_sequences"):
        y_rev = ctx.op("Reverse", [y_rev], "backward_reversed", axis=1)
    mode = cfg.get("merge_mode", "concat")
    if mode is None:
        merged = [y, y_rev]
    elif mode == "concat":
        merged = [ctx.op("Concat", [y, y_rev], axis=-1)]
    else:
        op = {"sum": "Add", "mul": "Mul", "ave": "Mean"}.get(mode)
        ctx.require(op is not None, "merge_mode", f"merge_mode {mode!r} is not supported")
        merged = [ctx.op(op, [y, y_rev])]
    outs = merged
    if cfg.get("return_state") or fwd_cfg.get("return_state"):
        outs = merged + f_out[1:] + b_out[1:]
    sequence_mask(ctx, bool(fwd_cfg.get("return_sequences")), len(outs))
    if mode is None:
        ctx.output_masks = [ctx.output_masks[0]] + ctx.output_masks[:-1]
    return outs


@register_converter("Embedding", cast_inputs=False, mask="own")
def convert_embedding(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Embedding: rows of the table by integer index."""
    cfg = ctx.config
    (table,) = ctx.weights_as(["embeddings"], [(int(cfg["input_dim"]), int(cfg["output_dim"]))])
    x = inputs[0]
    if not ctx.builder.values[x].dtype.startswith(("int", "uint")):
        x = ctx.op("Cast", [x], "indices", dtype="int32")
    if cfg.get("mask_zero"):
        ctx.output_masks = [ctx.op("MaskNotEqual", [x], "mask", value=0, dtype="float32")]
    return [ctx.op("Gather", [ctx.const("embeddings", table), x])]


@register_converter("RepeatVector", mask="drop")
def convert_repeat_vector(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """(N, F) -> (N, n, F)."""
    shape = ctx.shape(inputs[0])
    x = ctx.op("Reshape", [inputs[0]], "expand", shape=[1, shape[-1]])
    return [ctx.op("Repeat", [x], repeats=[int(ctx.config["n"])])]


@register_converter("TimeDistributed", cast_inputs=False, mask="pass")
def convert_time_distributed(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """TimeDistributed(layer or nested model): time folded into the batch, then unfolded."""
    raw = ctx.config["layer"]
    cls, cfg = _inner(raw)
    if cls in MODEL_CLASSES:
        assert ctx.run_wrapped_model is not None
        folded = ctx.op("FoldTime", [inputs[0]], "folded")
        outs = ctx.run_wrapped_model(parse_model(raw, ctx.keras_major), [folded])
        ctx.require(len(outs) == 1, "layer", "TimeDistributed around a model with several "
                    "outputs is not supported")
        return [ctx.op("UnfoldTime", [outs[0], inputs[0]])]
    spec = LayerSpec(cfg.get("name", cls), cls, cfg, [ctx.call], raw.get("registered_name"),
                     raw.get("module"))
    reg = find_converter(spec)
    ctx.require(reg is not None, "layer", f"TimeDistributed around {cls} is not supported")
    folded = ctx.op("FoldTime", [inputs[0]], "folded")
    inner = LayerContext(ctx.builder, spec, f"{ctx.scope}/{spec.name}",
                         lambda: ctx.weights, ctx.keras_major, ctx.call)
    inner.resolve = ctx.resolve
    x = folded
    if reg.cast_inputs and ctx.builder.values[x].dtype != "float32":
        x = ctx.op("Cast", [x], "cast", dtype="float32")
    outs = reg.fn(inner, [x])
    return [ctx.op("UnfoldTime", [outs[0], inputs[0]])]
