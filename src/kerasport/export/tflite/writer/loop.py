"""LSTM as a WHILE loop over time, the form TensorFlow's converter writes for Keras 3 LSTMs.

Main subgraph: one FULLY_CONNECTED projects every time step at once (input kernel + bias,
(N, T, 4U)), TRANSPOSE to time-major, then WHILE over (step, h, c, projection). Body subgraph:
GATHER the step's projection, FULLY_CONNECTED h with the recurrent kernel (all four gates in one
(4U, U) matrix), ADD, SPLIT into i, f, c, o, LOGISTIC/TANH, the cell update. Cond subgraph:
step < T. LiteRT's XNNPACK delegate takes the body whole, so each step is one delegate call
with two matrix products, where UNIDIRECTIONAL_SEQUENCE_LSTM does eight matrix-vector products
per step in its own kernel (measured in docs/tflite_lstm.md)."""

from __future__ import annotations

import numpy as np

from kerasport.export.tflite.writer.context import TFLiteContext
from kerasport.export.tflite.writer.helpers import (
    activation_code,
    alias,
    bi,
    const,
    ints,
    options,
    temp,
    tensor,
    tshape,
)
from kerasport.ir.graph import Node


def loop_lstm_ok(ctx: TFLiteContext, node: Node) -> bool:
    """Whether the WHILE form applies: the fused op's conditions (checked by the caller), a
    known sequence length, and only the last output used (a sequence output would need a
    tensor list)."""
    return not node.attrs.get("return_sequences") and ctx.shape(node.inputs[0])[1] is not None


def _sub(ctx: TFLiteContext) -> TFLiteContext:
    sub = TFLiteContext(ctx.graph, ctx.batch_size)
    sub.layer = ctx.layer
    return sub


def _carried(sub: TFLiteContext, name: str, shapes: list[list[int]], dtypes: list[str]
             ) -> list[int]:
    return [tensor(sub, f"{name}/arg{k}", s, d) for k, (s, d) in enumerate(zip(shapes, dtypes))]


def _cond(ctx: TFLiteContext, name: str, shapes: list, dtypes: list, steps: int) -> int:
    sub = _sub(ctx)
    args = _carried(sub, f"{name}/cond", shapes, dtypes)
    more = temp(sub, f"{name}/cond/more", [], "bool")
    sub.op("LESS", [args[0], const(sub, np.asarray(steps, np.int32), "steps", "int32")],
           [more])
    ctx.subgraphs.append((sub, args, [more], f"{name}/while_cond"))
    return len(ctx.subgraphs)


def _body(ctx: TFLiteContext, name: str, shapes: list, dtypes: list, rec: np.ndarray) -> int:
    sub = _sub(ctx)
    step, h, c, proj = _carried(sub, f"{name}/body", shapes, dtypes)
    n, units = shapes[1]
    x = temp(sub, f"{name}/body/x", [n, 4 * units])
    sub.op("GATHER", [proj, step], [x], options("GatherOptions", axis=0))
    r = temp(sub, f"{name}/body/recurrent", [n, 4 * units])
    sub.op("FULLY_CONNECTED", [h, const(sub, np.ascontiguousarray(rec.T), "recurrent_kernel"),
                               -1], [r],
           options("FullyConnectedOptions", fusedActivationFunction=activation_code("NONE")))
    z = bi(sub, "ADD", x, r)
    gates = [temp(sub, f"{name}/body/gate{k}", [n, units]) for k in range(4)]
    sub.op("SPLIT", [ints(sub, [1], "axis"), z], gates, options("SplitOptions", numSplits=4))
    i, f, o = (_un(sub, "LOGISTIC", gates[k]) for k in (0, 1, 3))
    g = _un(sub, "TANH", gates[2])
    c2 = bi(sub, "ADD", bi(sub, "MUL", f, c), bi(sub, "MUL", i, g))
    h2 = bi(sub, "MUL", o, _un(sub, "TANH", c2))
    nxt = temp(sub, f"{name}/body/next", [], "int32")
    sub.op("ADD", [step, const(sub, np.asarray(1, np.int32), "one", "int32")], [nxt],
           options("AddOptions", fusedActivationFunction=activation_code("NONE")))
    ctx.subgraphs.append((sub, [step, h, c, proj], [nxt, h2, c2, proj], f"{name}/while_body"))
    return len(ctx.subgraphs)


def _un(ctx: TFLiteContext, code: str, x: int) -> int:
    out = temp(ctx, ctx.tensors[x].name + f"/{code.lower()}", tshape(ctx, x))
    ctx.op(code, [x], [out])
    return out


def while_lstm(ctx: TFLiteContext, node: Node, x: int, kernel: np.ndarray, rec: np.ndarray,
               bias: np.ndarray) -> None:
    """The LSTM ``node`` over (N, T, F) tensor ``x`` (already time-reversed for go_backwards)
    as a WHILE loop; its last h is the node's output."""
    name, units = node.outputs[0], rec.shape[0]
    n, steps, _ = tshape(ctx, x)
    n = n or 1
    proj = temp(ctx, f"{name}/projection", [n, steps, 4 * units])
    ctx.op("FULLY_CONNECTED", [x, const(ctx, np.ascontiguousarray(kernel.T), f"{name}/kernel"),
                               const(ctx, bias, f"{name}/bias")], [proj],
           options("FullyConnectedOptions", fusedActivationFunction=activation_code("NONE"),
                   keepNumDims=True))
    major = temp(ctx, f"{name}/time_major", [steps, n, 4 * units])
    ctx.op("TRANSPOSE", [proj, ints(ctx, [1, 0, 2], "perm")], [major])
    shapes = [[], [n, units], [n, units], [steps, n, 4 * units]]
    dtypes = ["int32", "float32", "float32", "float32"]
    cond = _cond(ctx, name, shapes, dtypes, steps)
    body = _body(ctx, name, shapes, dtypes, rec)
    zeros = np.zeros((n, units), np.float32)
    start = [const(ctx, np.asarray(0, np.int32), f"{name}/start", "int32"),
             const(ctx, zeros, f"{name}/h0"), const(ctx, zeros, f"{name}/c0"), major]
    outs = [temp(ctx, f"{name}/while{k}", s, d) for k, (s, d) in enumerate(zip(shapes, dtypes))]
    ctx.op("WHILE", start, outs, options("WhileOptions", condSubgraphIndex=cond,
                                         bodySubgraphIndex=body))
    alias(ctx, name, outs[1])

