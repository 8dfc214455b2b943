"""Keras 3 emitters for kerasport/ops/activations.py."""

from __future__ import annotations

from kerasport.export.keras.helpers import EmitContext, Emitted, emitter
from kerasport.ir.graph import Node

# IR op -> keras.activations name (same function, same defaults)
_BY_NAME = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus",
            "Softsign": "softsign", "Selu": "selu", "Exp": "exponential", "Silu": "silu"}


@emitter(*_BY_NAME)
def emit_named(ctx: EmitContext, node: Node) -> Emitted:
    """Activation(name)."""
    return Emitted("Activation", {"activation": _BY_NAME[node.op]}, [node.inputs[0]])


@emitter("Relu")
def emit_relu(ctx: EmitContext, node: Node) -> Emitted:
    """ReLU(max_value, negative_slope, threshold)."""
    a = node.attrs
    return Emitted("ReLU", {"max_value": a.get("max_value"),
                            "negative_slope": float(a.get("negative_slope", 0.0)),
                            "threshold": float(a.get("threshold", 0.0))}, [node.inputs[0]])


@emitter("LeakyRelu")
def emit_leaky_relu(ctx: EmitContext, node: Node) -> Emitted:
    """LeakyReLU(negative_slope)."""
    return Emitted("LeakyReLU", {"negative_slope": float(node.attrs.get("alpha", 0.2))},
                   [node.inputs[0]])


@emitter("Elu")
def emit_elu(ctx: EmitContext, node: Node) -> Emitted:
    """ELU(alpha)."""
    return Emitted("ELU", {"alpha": float(node.attrs.get("alpha", 1.0))}, [node.inputs[0]])


@emitter("Gelu")
def emit_gelu(ctx: EmitContext, node: Node) -> Emitted:
    """keras.ops.gelu(x, approximate)."""
    return Emitted("Gelu", {"approximate": bool(node.attrs.get("approximate", False))},
                   [node.inputs[0]], module="keras.src.ops.nn")


@emitter("Softmax")
def emit_softmax(ctx: EmitContext, node: Node) -> Emitted:
    """Softmax(axis)."""
    return Emitted("Softmax", {"axis": node.attrs.get("axis", -1)}, [node.inputs[0]])
