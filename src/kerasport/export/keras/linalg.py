"""Keras 3 emitters for kerasport/ops/linalg.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import EmitContext, Emitted, emitter, require
from kerasport.ir.graph import Node


def _dense(kernel, bias, x: str) -> Emitted:
    require(kernel.ndim == 2, f"a {kernel.ndim}-D kernel has no Dense form")
    return Emitted("Dense", {"units": int(kernel.shape[1]), "activation": "linear",
                             "use_bias": bias is not None},
                   [x], [kernel] + ([] if bias is None else [bias]))


@emitter("Dense")
def emit_dense(ctx: EmitContext, node: Node) -> Emitted:
    """Dense(units) with the stored kernel (in, units) and bias."""
    kernel = ctx.weight(node, 1, "kernel")
    has_bias = len(node.inputs) > 2 and node.inputs[2]
    return _dense(kernel, ctx.weight(node, 2, "bias") if has_bias else None, node.inputs[0])


@emitter("MatMul")
def emit_matmul(ctx: EmitContext, node: Node) -> Emitted:
    """x @ W with a stored W: Dense without bias."""
    kernel = ctx.weight(node, 1, "right operand")
    if node.attrs.get("transpose_b"):
        kernel = kernel.T
    return _dense(kernel, None, node.inputs[0])
