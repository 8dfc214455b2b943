"""Matrix products: FULLY_CONNECTED (Dense with a weight kernel), BATCH_MATMUL."""

from __future__ import annotations

import numpy as np

from kerasport.export.tflite.writer.context import TFLiteContext, emitter, unavailable
from kerasport.export.tflite.writer.helpers import (
    const,
    fused_output,
    options,
    rank,
    read,
    temp,
    write,
)
from kerasport.ir.graph import Node


@emitter("Dense", fuses=True)
def dense(ctx: TFLiteContext, node: Node) -> None:
    """x (..., K) @ kernel (K, U) + bias -> FULLY_CONNECTED with weights (U, K), keeping the
    leading dims; a computed kernel -> BATCH_MATMUL (+ ADD)."""
    x = read(ctx, node.inputs[0])
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if not ctx.is_const(node.inputs[1]):
        return _dense_matmul(ctx, node, x, bias)
    kernel = ctx.const_value(node.inputs[1])
    w = const(ctx, np.ascontiguousarray(kernel.T), f"{node.inputs[1]}/t")
    out, act = fused_output(ctx, node.outputs[0])
    opts = options("FullyConnectedOptions", fusedActivationFunction=act,
                   keepNumDims=rank(ctx, node.inputs[0]) > 2)
    ctx.op("FULLY_CONNECTED", [x, w, read(ctx, bias) if bias else -1], [out], opts)
    return None


def _dense_matmul(ctx: TFLiteContext, node: Node, x: int, bias: str) -> None:
    out, act = fused_output(ctx, node.outputs[0])
    mid = temp(ctx, f"{node.outputs[0]}/matmul", ctx.shape(node.outputs[0])) if bias else out
    ctx.op("BATCH_MATMUL", [x, read(ctx, node.inputs[1])], [mid],
           options("BatchMatMulOptions"))
    if bias:
        ctx.op("ADD", [mid, read(ctx, bias)], [out],
               options("AddOptions", fusedActivationFunction=act))


@emitter("MatMul")
def matmul(ctx: TFLiteContext, node: Node) -> None:
    """a @ b (or a @ b^T) -> BATCH_MATMUL with adj_y."""
    a, b = read(ctx, node.inputs[0]), read(ctx, node.inputs[1])
    ctx.op("BATCH_MATMUL", [a, b], [write(ctx, node.outputs[0])],
           options("BatchMatMulOptions", adjY=bool(node.attrs.get("transpose_b", False))))


unavailable("Einsum", "a general einsum has no TFLite operator (EinsumDense / Dot equations "
            "are not lowered to BATCH_MATMUL yet)")
