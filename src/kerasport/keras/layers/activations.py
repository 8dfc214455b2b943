"""Activation functions and activation layers: Activation, ReLU, LeakyReLU, PReLU, ELU,
Softmax."""

from __future__ import annotations

from typing import Any

from kerasport.keras.registry import LayerContext, register_converter


def activation_op(ctx: LayerContext, name: Any, key: str) -> tuple[str, dict] | None:
    """The IR op and attributes for a Keras activation name (None for linear)."""
    if name in (None, "linear", "identity"):
        return None
    k2 = ctx.keras_major < 3
    table: dict[str, tuple[str, dict]] = {
        "relu": ("Relu", {}),
        "relu6": ("Relu", {"max_value": 6.0}),
        "leaky_relu": ("LeakyRelu", {"alpha": 0.2}),
        "elu": ("Elu", {"alpha": 1.0}),
        "selu": ("Selu", {}),
        "gelu": ("Gelu", {"approximate": False}),
        "approximate_gelu": ("Gelu", {"approximate": True}),
        "sigmoid": ("Sigmoid", {}),
        # Keras 2 defined hard_sigmoid as clip(0.2 x + 0.5); Keras 3 as relu6(x + 3) / 6.
        "hard_sigmoid": ("HardSigmoid", {"slope": 0.2 if k2 else 1.0 / 6.0}),
        "silu": ("Silu", {}),
        "swish": ("Silu", {}),
        "hard_silu": ("HardSilu", {}),
        "hard_swish": ("HardSilu", {}),
        "mish": ("Mish", {}),
        "softplus": ("Softplus", {}),
        "softsign": ("Softsign", {}),
        "tanh": ("Tanh", {}),
        "exponential": ("Exp", {}),
        "softmax": ("Softmax", {"axis": -1}),
        "log_softmax": ("LogSoftmax", {"axis": -1}),
    }
    ctx.require(isinstance(name, str) and name in table, key,
                f"activation {name!r} is not supported",
                "supported activations: " + ", ".join(sorted(table)) + ", linear")
    return table[name]


def supported_activations() -> list[str]:
    """Names accepted as activation functions (for the generated docs)."""
    return ["approximate_gelu", "elu", "exponential", "gelu", "hard_sigmoid", "hard_silu",
            "hard_swish", "leaky_relu", "linear", "log_softmax", "mish", "relu", "relu6", "selu",
            "sigmoid", "silu", "softmax", "softplus", "softsign", "swish", "tanh"]


@register_converter("Activation")
def convert_activation(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Activation(name)."""
    op = activation_op(ctx, ctx.config.get("activation"), "activation")
    if op is None:
        return [inputs[0]]
    return [ctx.op(op[0], [inputs[0]], **op[1])]


@register_converter("ReLU")
def convert_relu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ReLU(max_value, negative_slope, threshold)."""
    cfg = ctx.config
    max_value = cfg.get("max_value")
    return [ctx.op("Relu", [inputs[0]],
                   max_value=None if max_value is None else float(max_value),
                   negative_slope=float(cfg.get("negative_slope") or 0.0),
                   threshold=float(cfg.get("threshold") or 0.0))]


@register_converter("LeakyReLU")
def convert_leaky_relu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """LeakyReLU(negative_slope); Keras 2 called it alpha (default 0.3 in both)."""
    slope = ctx.config.get("negative_slope", 0.3)
    return [ctx.op("LeakyRelu", [inputs[0]], alpha=float(slope))]


@register_converter("ELU")
def convert_elu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ELU(alpha)."""
    return [ctx.op("Elu", [inputs[0]], alpha=float(ctx.config.get("alpha", 1.0)))]


@register_converter("PReLU")
def convert_prelu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """PReLU: alpha has the input's non-batch shape with shared axes set to 1."""
    shape = ctx.shape(inputs[0])
    ctx.require(shape is not None and None not in shape[1:], None,
                "PReLU needs a fully known input shape")
    param = list(shape[1:])
    for ax in ctx.config.get("shared_axes") or []:
        param[ax - 1] = 1
    (alpha,) = ctx.weights_as(["alpha"], [tuple(param)])
    return [ctx.op("PRelu", [inputs[0], ctx.const("alpha", alpha)])]


@register_converter("Softmax")
def convert_softmax(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Softmax(axis), axis an int or a list of ints."""
    axis = ctx.config.get("axis", -1)
    axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
    return [ctx.op("Softmax", [inputs[0]], axis=axis)]


