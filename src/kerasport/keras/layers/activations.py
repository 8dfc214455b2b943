"""Activation functions and activation layers: Activation, ReLU, LeakyReLU, PReLU, ELU,
Softmax; and keras.activations / keras.ops activation calls recorded as Keras 3 operations."""

from __future__ import annotations

from typing import Any

from kerasport.keras.registry import LayerContext, register_converter


def activation_op(ctx: LayerContext, name: Any, key: str) -> tuple[str, dict] | None:
    """The IR op and attributes for a Keras activation name (None for linear), from the one
    activation table (keras/activation_table.py)."""
    return ctx.activation_op(name, key)


@register_converter("Activation", mask="pass")
def convert_activation(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Activation(name)."""
    op = activation_op(ctx, ctx.config.get("activation"), "activation")
    if op is None:
        return [inputs[0]]
    return [ctx.op(op[0], [inputs[0]], **op[1])]


@register_converter("ReLU", mask="pass")
def convert_relu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ReLU(max_value, negative_slope, threshold)."""
    cfg = ctx.config
    max_value = cfg.get("max_value")
    return [ctx.op("Relu", [inputs[0]],
                   max_value=None if max_value is None else float(max_value),
                   negative_slope=float(cfg.get("negative_slope") or 0.0),
                   threshold=float(cfg.get("threshold") or 0.0))]


@register_converter("LeakyReLU", mask="pass")
def convert_leaky_relu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """LeakyReLU(negative_slope); Keras 2 called it alpha (default 0.3 in both)."""
    slope = ctx.config.get("negative_slope", 0.3)
    return [ctx.op("LeakyRelu", [inputs[0]], alpha=float(slope))]


@register_converter("ELU", mask="pass")
def convert_elu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ELU(alpha)."""
    return [ctx.op("Elu", [inputs[0]], alpha=float(ctx.config.get("alpha", 1.0)))]


@register_converter("PReLU", mask="pass")
def convert_prelu(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """PReLU: alpha has the input's non-batch shape with shared axes set to 1."""
    shape = ctx.shape(inputs[0])
    ctx.require(shape is not None, None, "PReLU needs an input of known rank")
    param: list = list(shape[1:])
    shared = ctx.config.get("shared_axes") or []
    shared = [shared] if isinstance(shared, int) else shared
    for ax in shared:
        ctx.require(isinstance(ax, int) and -len(param) <= ax - 1 < len(param), "shared_axes",
                    f"shared axis {ax!r} is not an axis of the rank-{len(shape)} input")
        param[ax - 1] = 1
    # free dims may only be shared ones: the stored alpha fixes the others
    ctx.require(None not in param, None,
                "PReLU needs every non-shared input dimension known (free dimensions "
                f"{[i + 1 for i, d in enumerate(param) if d is None]} are not in shared_axes)",
                "give those axes in shared_axes, or a fixed size in the Input shape")
    (alpha,) = ctx.weights_as(["alpha"], [tuple(param)])
    return [ctx.op("PRelu", [inputs[0], ctx.const("alpha", alpha)])]


@register_converter("Softmax", mask="pass")
def convert_softmax(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Softmax(axis), axis an int or a list of ints."""
    axis = ctx.config.get("axis", -1)
    axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
    return [ctx.op("Softmax", [inputs[0]], axis=axis)]


# ---- keras.activations.X(tensor) / keras.ops.X(tensor) recorded as operations -------------
# op class -> (IR op, {IR attribute: (config key, Keras' default)}); the defaults are those of
# the operation classes in keras/src/ops/nn.py (ops.gelu approximates by default, unlike
# keras.activations.gelu, which records approximate=False).
_UNARY_OPS: dict[str, tuple[str, dict[str, tuple[str, Any]]]] = {
    "Celu": ("Celu", {"alpha": ("alpha", 1.0)}),
    "Elu": ("Elu", {"alpha": ("alpha", 1.0)}),
    "Exp": ("Exp", {}),
    "Gelu": ("Gelu", {"approximate": ("approximate", True)}),
    "HardShrink": ("HardShrink", {"threshold": ("threshold", 0.5)}),
    "HardSigmoid": ("HardSigmoid", {}),
    "HardSilu": ("HardSilu", {}),
    "HardTanh": ("HardTanh", {}),
    "LeakyRelu": ("LeakyRelu", {"alpha": ("negative_slope", 0.2)}),
    "LogSigmoid": ("LogSigmoid", {}),
    "Mish": ("Mish", {}),
    "Relu": ("Relu", {}),
    "Selu": ("Selu", {}),
    "Sigmoid": ("Sigmoid", {}),
    "Silu": ("Silu", {}),
    "SoftShrink": ("SoftShrink", {"threshold": ("threshold", 0.5)}),
    "Softplus": ("Softplus", {}),
    "Softsign": ("Softsign", {}),
    "SparsePlus": ("SparsePlus", {}),
    "SparseSigmoid": ("SparseSigmoid", {}),
    "Squareplus": ("Squareplus", {"b": ("b", 4.0)}),
    "Tanh": ("Tanh", {}),
    "TanhShrink": ("TanhShrink", {}),
    "Threshold": ("Threshold", {"threshold": ("threshold", None),
                                "default_value": ("default_value", None)}),
}


def _number(ctx: LayerContext, key: str, default: Any) -> Any:
    value = ctx.config.get(key, default)
    if isinstance(default, bool):
        ctx.require(isinstance(value, bool), key, f"{key}={value!r} is not a boolean")
        return value
    ctx.require(isinstance(value, (int, float)) and not isinstance(value, bool), key,
                f"{key}={value!r} is not a number")
    return float(value)


@register_converter(*(f"ops.{name}" for name in _UNARY_OPS), mask="drop")
def convert_unary_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """A recorded keras.activations / keras.ops activation call, parameters from its config.

    Celu(alpha), Elu(alpha), Gelu(approximate), HardShrink/SoftShrink(threshold),
    LeakyRelu(negative_slope), Squareplus(b), Threshold(threshold, default_value) ..."""
    ctx.require(len(inputs) == 1, None, f"{ctx.class_name} takes one tensor")
    op, params = _UNARY_OPS[ctx.class_name]
    attrs = {attr: _number(ctx, key, default) for attr, (key, default) in params.items()}
    return [ctx.op(op, [inputs[0]], **attrs)]


@register_converter("ops.Relu6", mask="drop")
def convert_relu6_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """keras.ops.relu6 / keras.activations.relu6: min(max(x, 0), 6)."""
    return [ctx.op("Relu", [inputs[0]], max_value=6.0)]


@register_converter("ops.ReLU", mask="drop")
def convert_relu_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """A recorded keras.activations.relu(x, negative_slope, max_value, threshold) call.

    Its config has the ReLU layer's keys."""
    return convert_relu(ctx, inputs)


@register_converter("ops.Softmax", "ops.LogSoftmax", mask="drop")
def convert_softmax_op(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """keras.ops / keras.activations softmax and log_softmax over axis (an int or a list)."""
    axis = ctx.config.get("axis", -1)
    ctx.require(axis is not None, "axis",
                "axis=None (one softmax over every element of the batch) is not supported",
                "give the axis, e.g. axis=-1")
    ok = isinstance(axis, int) or (isinstance(axis, (list, tuple)) and axis and all(
        isinstance(a, int) for a in axis))
    ctx.require(bool(ok), "axis", f"axis={axis!r} is not an int or a list of ints")
    axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
    op = "Softmax" if ctx.class_name == "Softmax" else "LogSoftmax"
    return [ctx.op(op, [inputs[0]], axis=axis)]
