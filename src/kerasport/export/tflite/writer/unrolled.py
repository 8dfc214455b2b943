"""Recurrent layers unrolled over their (known) time steps: one FULLY_CONNECTED for the input
projection of every step, UNPACK into steps, per step a FULLY_CONNECTED with the recurrent
kernel, SPLIT into gates and elementwise builtins, PACK of the outputs. Stateless and
batch-free, at the price of a graph that grows with the sequence length."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.activations import lower
from kerasport.export.tflite.writer.context import TFLiteContext
from kerasport.export.tflite.writer.helpers import (
    activation_code,
    alias,
    bi,
    const,
    ints,
    options,
    read,
    schema,
    temp,
    tshape,
)
from kerasport.export.tflite.writer.serialize import TYPES
from kerasport.ir.graph import Node

TANH, SIGMOID = {"op": "Tanh"}, {"op": "Sigmoid"}
MAX_STEPS = 1024  # an unrolled graph of more steps would be unreasonably large


def fc(ctx: TFLiteContext, x: int, weight: np.ndarray, bias: np.ndarray | None, base: str,
       keep: bool = False) -> int:
    """x @ weight (+ bias) as FULLY_CONNECTED (weights stored transposed, once per array:
    every step shares them)."""
    shape = tshape(ctx, x)
    out = temp(ctx, base, [*shape[:-1], weight.shape[1]])
    w = _shared(ctx, weight, f"{base}/weights", transpose=True)
    b = _shared(ctx, bias, f"{base}/bias") if bias is not None else -1
    ctx.op("FULLY_CONNECTED", [x, w, b], [out], options(
        "FullyConnectedOptions", fusedActivationFunction=activation_code("NONE"),
        keepNumDims=keep))
    return out


def _shared(ctx: TFLiteContext, array: np.ndarray, name: str, transpose: bool = False) -> int:
    key = (id(array), array.shape, transpose)
    if key not in ctx.shared:
        ctx.shared[key] = (array, const(ctx, np.ascontiguousarray(array.T if transpose
                                                                   else array), name))
    return ctx.shared[key][1]


def split(ctx: TFLiteContext, x: int, parts: int, base: str) -> list[int]:
    """SPLIT the last axis of a (N, k*U) tensor into ``parts`` equal pieces."""
    n, width = tshape(ctx, x)
    outs = [temp(ctx, f"{base}_{i}", [n, width // parts]) for i in range(parts)]
    ctx.op("SPLIT", [ints(ctx, [1], "axis"), x], outs, options("SplitOptions",
                                                               numSplits=parts))
    return outs


def steps(ctx: TFLiteContext, node: Node, proj: int) -> list[int]:
    """The projected sequence (N, T, G) as T tensors (N, G), reversed for go_backwards."""
    n, t, g = tshape(ctx, proj)
    if t is None or t > MAX_STEPS:
        raise KerasportError(f"layer '{node.layer}': {node.op} is unrolled over time in "
                             f"TFLite and needs a known sequence length (at most {MAX_STEPS}),"
                             f" got {t}")
    if node.attrs.get("go_backwards"):
        rev = temp(ctx, f"{node.outputs[0]}/reversed", [n, t, g])
        ctx.op("REVERSE_V2", [proj, ints(ctx, [1], "axis")], [rev])
        proj = rev
    outs = [temp(ctx, f"{node.outputs[0]}/x{i}", [n, g]) for i in range(t)]
    ctx.op("UNPACK", [proj], outs, options("UnpackOptions", num=t, axis=1))
    return outs


def mask_steps(ctx: TFLiteContext, node: Node, at: int, count: int) -> list[int | None]:
    """The (N, T) mask input as T float tensors (N, 1) (reversed for go_backwards), or Nones
    when the layer has no mask."""
    if len(node.inputs) <= at or not node.inputs[at]:
        return [None] * count
    m = read(ctx, node.inputs[at])
    n, t = tshape(ctx, m)
    if ctx.tensors[m].dtype != "float32":
        s = schema()
        f = temp(ctx, f"{node.outputs[0]}/mask_f", [n, t])
        ctx.op("CAST", [m], [f], options("CastOptions", inDataType=getattr(
            s.TensorType, TYPES[ctx.tensors[m].dtype]), outDataType=s.TensorType.FLOAT32))
        m = f
    m3 = temp(ctx, f"{node.outputs[0]}/mask3", [n, t, 1])
    ctx.op("RESHAPE", [m, ints(ctx, [-1, t, 1], "shape")], [m3])
    if node.attrs.get("go_backwards"):
        rev = temp(ctx, f"{node.outputs[0]}/mask_rev", [n, t, 1])
        ctx.op("REVERSE_V2", [m3, ints(ctx, [1], "axis")], [rev])
        m3 = rev
    outs = [temp(ctx, f"{node.outputs[0]}/m{i}", [n, 1]) for i in range(t)]
    ctx.op("UNPACK", [m3], outs, options("UnpackOptions", num=t, axis=1))
    return outs


def carry(ctx: TFLiteContext, m: int | None, new: int, old: int | None) -> int:
    """``new`` where the step is kept (m = 1), ``old`` (None: zeros) where it is masked."""
    if m is None:
        return new
    if old is None:
        return bi(ctx, "MUL", new, m)
    return bi(ctx, "ADD", old, bi(ctx, "MUL", bi(ctx, "SUB", new, old), m))


def step_output(ctx: TFLiteContext, node: Node, m: int | None, h: int, out: int | None) -> int:
    """The output of a step: the new h, or under a mask the previous output (or zeros with
    zero_output_for_mask)."""
    if m is None:
        return h
    return carry(ctx, m, h, None if node.attrs.get("zero_output_for_mask") else out)


def finish(ctx: TFLiteContext, node: Node, outputs: list[int], states: list[int]) -> None:
    """The sequence (PACK) or the last output, then the final states."""
    name = node.outputs[0]
    if node.attrs.get("return_sequences"):
        n, u = tshape(ctx, outputs[-1])
        seq = temp(ctx, name, [n, len(outputs), u])
        ctx.op("PACK", outputs, [seq], options("PackOptions", valuesCount=len(outputs),
                                               axis=1))
        alias(ctx, name, seq)
    else:
        alias(ctx, name, _copy_if_taken(ctx, outputs[-1]))
    for value, state in zip(node.outputs[1:], states):
        if value:
            alias(ctx, value, _copy_if_taken(ctx, state))


def _copy_if_taken(ctx: TFLiteContext, t: int) -> int:
    if t not in ctx.index.values():
        return t
    out = temp(ctx, ctx.tensors[t].name, tshape(ctx, t))
    ctx.op("RESHAPE", [t, ints(ctx, [-1 if d is None else d for d in tshape(ctx, t)])], [out])
    return out


def _state(ctx: TFLiteContext, node: Node, i: int, units: int) -> int | None:
    """A given initial state (None: zeros, skipped in the first step)."""
    if len(node.inputs) > i and node.inputs[i]:
        return read(ctx, node.inputs[i])
    return None


def _projection(ctx: TFLiteContext, node: Node, bias: np.ndarray | None) -> int:
    kernel = ctx.const_value(node.inputs[1])
    return fc(ctx, read(ctx, node.inputs[0]), kernel, bias, f"{node.outputs[0]}/proj",
              keep=True)


def _bias(ctx: TFLiteContext, node: Node) -> np.ndarray | None:
    return ctx.const_value(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] else None


def unrolled_simple_rnn(ctx: TFLiteContext, node: Node) -> None:
    """h_t = act(x_t W + b + h_{t-1} U)."""
    rec = ctx.const_value(node.inputs[2])
    act = node.attrs.get("activation", TANH)
    h = _state(ctx, node, 4, rec.shape[0])
    outs: list[int] = []
    xs = steps(ctx, node, _projection(ctx, node, _bias(ctx, node)))
    for t, (xt, m) in enumerate(zip(xs, mask_steps(ctx, node, 5, len(xs)))):
        z = xt if h is None else bi(ctx, "ADD", xt, fc(ctx, h, rec, None,
                                                        f"{node.outputs[0]}/rec{t}"))
        new = lower(ctx, act, z)
        outs.append(step_output(ctx, node, m, new, outs[-1] if outs else None))
        h = carry(ctx, m, new, h)
    finish(ctx, node, outs, [h])


def unrolled_lstm(ctx: TFLiteContext, node: Node) -> None:
    """Gates (i, f, c, o): c = f c + i g, h = o act(c)."""
    rec = ctx.const_value(node.inputs[2])
    act = node.attrs.get("activation", TANH)
    ract = node.attrs.get("recurrent_activation", SIGMOID)
    units = rec.shape[0]
    h, c = _state(ctx, node, 4, units), _state(ctx, node, 5, units)
    outs: list[int] = []
    xs = steps(ctx, node, _projection(ctx, node, _bias(ctx, node)))
    for t, (xt, m) in enumerate(zip(xs, mask_steps(ctx, node, 6, len(xs)))):
        z = xt if h is None else bi(ctx, "ADD", xt, fc(ctx, h, rec, None,
                                                        f"{node.outputs[0]}/rec{t}"))
        zi, zf, zc, zo = split(ctx, z, 4, f"{node.outputs[0]}/gate{t}")
        i, g, o = lower(ctx, ract, zi), lower(ctx, act, zc), lower(ctx, ract, zo)
        ig = bi(ctx, "MUL", i, g)
        new_c = ig if c is None else bi(ctx, "ADD", bi(ctx, "MUL", lower(ctx, ract, zf), c),
                                        ig)
        new_h = bi(ctx, "MUL", o, lower(ctx, act, new_c))
        outs.append(step_output(ctx, node, m, new_h, outs[-1] if outs else None))
        h, c = carry(ctx, m, new_h, h), carry(ctx, m, new_c, c)
    finish(ctx, node, outs, [h, c])


def unrolled_gru(ctx: TFLiteContext, node: Node) -> None:
    """Gates (z, r, h); h = hh + z (h_prev - hh); reset_after as Keras' default."""
    rec = ctx.const_value(node.inputs[2])
    act = node.attrs.get("activation", TANH)
    ract = node.attrs.get("recurrent_activation", SIGMOID)
    after = node.attrs.get("reset_after", True)
    units = rec.shape[0]
    bias = _bias(ctx, node)
    in_bias, rec_bias = (bias, None) if bias is None or not after else (bias[0], bias[1])
    h = _state(ctx, node, 4, units)
    if h is None:
        h = const(ctx, np.zeros((1, units), np.float32), f"{node.outputs[0]}/h0")
    outs: list[int] = []
    xs = steps(ctx, node, _projection(ctx, node, in_bias))
    for t, (xt, m) in enumerate(zip(xs, mask_steps(ctx, node, 5, len(xs)))):
        base = f"{node.outputs[0]}/step{t}"
        xz, xr, xh = split(ctx, xt, 3, f"{base}/x")
        if after:
            rz, rr, rh = split(ctx, fc(ctx, h, rec, rec_bias, f"{base}/rec"), 3, f"{base}/r")
            z = lower(ctx, ract, bi(ctx, "ADD", xz, rz))
            r = lower(ctx, ract, bi(ctx, "ADD", xr, rr))
            hh = lower(ctx, act, bi(ctx, "ADD", xh, bi(ctx, "MUL", r, rh)))
        else:
            rz, rr = split(ctx, fc(ctx, h, rec[:, :2 * units], None, f"{base}/rec"), 2,
                           f"{base}/r")
            z = lower(ctx, ract, bi(ctx, "ADD", xz, rz))
            r = lower(ctx, ract, bi(ctx, "ADD", xr, rr))
            rh = fc(ctx, bi(ctx, "MUL", r, h), rec[:, 2 * units:], None, f"{base}/rech")
            hh = lower(ctx, act, bi(ctx, "ADD", xh, rh))
        new = bi(ctx, "ADD", hh, bi(ctx, "MUL", z, bi(ctx, "SUB", h, hh)))
        outs.append(step_output(ctx, node, m, new, outs[-1] if outs else None))
        h = carry(ctx, m, new, h)
    finish(ctx, node, outs, [h])



