"""Keras 3 emitters for kerasport/ops/elementwise.py."""

from __future__ import annotations

import numpy as np

from kerasport.export.keras.helpers import EmitContext, Emitted, Refused, emitter, require
from kerasport.ir.graph import Node

# IR op -> (merging layer for tensors, keras.ops operation for tensor (op) number)
_BINARY = {"Add": ("Add", "Add"), "Sub": ("Subtract", "Subtract"),
           "Mul": ("Multiply", "Multiply"), "Max": ("Maximum", "Maximum"),
           "Min": ("Minimum", "Minimum"), "Div": (None, "TrueDivide")}


@emitter(*_BINARY)
def emit_binary(ctx: EmitContext, node: Node) -> Emitted:
    """Tensors only: the merging layer (Add, Subtract ...); a tensor and a stored scalar:
    the keras.ops operation with the number."""
    layer, operation = _BINARY[node.op]
    consts = [ctx.const(v) for v in node.inputs]
    tensors = [v for v, c in zip(node.inputs, consts) if c is None]
    if all(c is None for c in consts):
        require(layer is not None, f"{node.op} of two computed tensors has no Keras layer")
        return Emitted(layer, {}, tensors, merge=True)
    scalars = [c for c in consts if c is not None]
    require(len(node.inputs) == 2 and len(tensors) == 1, f"{node.op} of {len(node.inputs)} "
            "operands with stored ones has no Keras layer")
    if scalars[0].size > 1 and node.op in ("Add", "Sub", "Mul"):
        return _per_channel_affine(ctx, node, tensors[0], scalars[0], consts[0] is None)
    require(scalars[0].size == 1, f"{node.op} with a stored tensor operand has no Keras layer")
    require(consts[0] is None or node.op in ("Add", "Mul", "Max", "Min"),
            f"{node.op} of a number and a tensor (in this order) is not written here")
    return Emitted(operation, {}, tensors, module="keras.src.ops.numpy",
                   extra=[float(np.asarray(scalars[0]).reshape(()))])


def _per_channel_affine(ctx: EmitContext, node: Node, x: str, c: np.ndarray,
                        tensor_first: bool) -> Emitted:
    """x + c, x - c, c - x or x * c with a stored per-channel c: a BatchNormalization."""
    channels = ctx.graph.values[x].shape[-1]
    require(isinstance(channels, int) and c.size == channels and c.shape[-1:] == (channels,),
            f"{node.op} with a stored operand that is not per channel has no Keras layer")
    c = np.asarray(c, np.float32).reshape(-1)
    one, zero = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    if node.op == "Mul":
        gamma, beta = c, zero
    elif node.op == "Add":
        gamma, beta = one, c
    else:
        gamma, beta = (one, -c) if tensor_first else (-one, c)
    config = {"axis": -1, "epsilon": 0.0, "center": True, "scale": True, "momentum": 0.99}
    return Emitted("BatchNormalization", config, [x], [gamma, beta, zero, one])


@emitter("Affine")
def emit_affine(ctx: EmitContext, node: Node) -> Emitted:
    """x * scale + shift per channel (a folded BatchNormalization): BatchNormalization over
    the last axis with mean 0, variance 1 and epsilon 0, which computes exactly that."""
    operands = list(node.inputs[1:3]) + [""] * (3 - len(node.inputs))
    if any(v and ctx.const(v) is None for v in operands):
        raise Refused("Affine with a computed scale or shift has no Keras layer")
    channels = ctx.graph.values[node.inputs[0]].shape[-1]
    require(isinstance(channels, int), "the channel count is unknown")
    gamma, beta = (np.full(channels, fill, np.float32) if not v else
                   _per_channel(ctx.weight(node, 1 + i, "operand"), channels)
                   for i, (v, fill) in enumerate(zip(operands, (1.0, 0.0))))
    config = {"axis": -1, "epsilon": 0.0, "center": True, "scale": True, "momentum": 0.99}
    return Emitted("BatchNormalization", config, [node.inputs[0]],
                   [gamma, beta, np.zeros(channels, np.float32),
                    np.ones(channels, np.float32)])


def _per_channel(a: np.ndarray, channels: int) -> np.ndarray:
    flat = np.asarray(a, np.float32)
    require(flat.size in (1, channels) and flat.shape[-1:] in ((1,), (channels,), ()),
            "scale/shift are not per channel")
    return np.broadcast_to(flat.reshape(-1), (channels,)).astype(np.float32)


@emitter("Mean")
def emit_mean(ctx: EmitContext, node: Node) -> Emitted:
    """The elementwise mean of computed tensors: Average."""
    require(all(ctx.const(v) is None for v in node.inputs),
            "an average with a stored operand has no Keras layer")
    return Emitted("Average", {}, list(node.inputs), merge=True)
