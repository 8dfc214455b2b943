"""Activations: torch functions where their formula is Keras' exactly, small expressions where
it is not (Keras' general relu, hard_sigmoid slopes, sparse_plus ...). ``activation_expr`` is
also what the recurrent cells apply."""

from __future__ import annotations

from typing import Any

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import axis_in, emitter, py
from kerasport.ir.graph import Node


def _relu(x: str, a: dict[str, Any]) -> str:
    slope, thr, hi = a.get("negative_slope", 0.0), a.get("threshold", 0.0), a.get("max_value")
    if not slope and not thr:
        if hi is None:
            return f"torch.relu({x})"
        return f"torch.clamp({x}, 0.0, {py(float(hi))})"
    if slope and hi is None and not thr:
        return f"F.leaky_relu({x}, {py(float(slope))})"
    y = (f"torch.where({x} > {py(float(thr))}, {x}, torch.zeros_like({x}))" if thr
         else f"torch.relu({x})")
    if hi is not None:
        y = f"torch.clamp({y}, max={py(float(hi))})"
    if slope:
        y = f"{y} - {py(float(slope))} * torch.relu({py(float(thr))} - {x})"
    return y


def _hard_sigmoid(x: str, a: dict[str, Any]) -> str:
    slope, offset = float(a.get("slope", 1.0 / 6.0)), float(a.get("offset", 0.5))
    if slope == 1.0 / 6.0 and offset == 0.5:
        return f"F.hardsigmoid({x})"
    return f"torch.clamp({x} * {py(slope)} + {py(offset)}, 0.0, 1.0)"


def _softmax(fn: str, x: str, axis: Any) -> str:
    """torch.softmax / log_softmax over one axis; over several, an expression of ``x``."""
    if isinstance(axis, (list, tuple)) and len(axis) > 1:
        dims = py(tuple(axis))
        if fn == "softmax":
            return f"{x}.exp() / {x}.exp().sum(dim={dims}, keepdim=True)"
        return f"{x} - {x}.exp().sum(dim={dims}, keepdim=True).log()"
    dim = axis[0] if isinstance(axis, (list, tuple)) else axis
    return f"torch.{fn}({x}, dim={dim})"


def _multi_axis(ctx: ModuleContext, node: Node, x: str, dims: str) -> str:
    """``x`` minus its max over ``dims``, on a line of its own (several-axis softmax)."""
    shifted = ctx.vars.new(f"{ctx.base_name(node)}_shifted")
    ctx.line(f"{shifted} = {x} - torch.amax({x}, dim={dims}, keepdim=True)")
    return shifted


_SIMPLE = {
    "LeakyRelu": lambda x, a: f"F.leaky_relu({x}, {py(float(a.get('alpha', 0.2)))})",
    "Elu": lambda x, a: f"F.elu({x}, {py(float(a.get('alpha', 1.0)))})",
    "Selu": lambda x, a: f"F.selu({x})",
    "Gelu": lambda x, a: (f"F.gelu({x}, approximate='tanh')" if a.get("approximate")
                          else f"F.gelu({x})"),
    "Sigmoid": lambda x, a: f"torch.sigmoid({x})",
    "Silu": lambda x, a: f"F.silu({x})",
    "HardSilu": lambda x, a: f"F.hardswish({x})",
    "Softplus": lambda x, a: f"F.softplus({x})",
    "Mish": lambda x, a: f"F.mish({x})",
    "Softsign": lambda x, a: f"F.softsign({x})",
    "Tanh": lambda x, a: f"torch.tanh({x})",
    "Exp": lambda x, a: f"torch.exp({x})",
    "Celu": lambda x, a: f"F.celu({x}, {py(float(a.get('alpha', 1.0)))})",
    "HardTanh": lambda x, a: f"F.hardtanh({x})",
    "LogSigmoid": lambda x, a: f"F.logsigmoid({x})",
    "SparsePlus": lambda x, a: (f"torch.where({x} <= -1.0, torch.zeros_like({x}), "
                                f"torch.where({x} < 1.0, ({x} + 1.0) ** 2 / 4.0, {x}))"),
    "SparseSigmoid": lambda x, a: f"torch.clamp(0.5 * ({x} + 1.0), 0.0, 1.0)",
    "Squareplus": lambda x, a: (f"({x} + torch.sqrt({x} * {x} + "
                                f"{py(float(a.get('b', 4.0)))})) / 2.0"),
    "TanhShrink": lambda x, a: f"F.tanhshrink({x})",
    "HardShrink": lambda x, a: f"F.hardshrink({x}, {py(float(a.get('threshold', 0.5)))})",
    "SoftShrink": lambda x, a: f"F.softshrink({x}, {py(float(a.get('threshold', 0.5)))})",
    "Threshold": lambda x, a: (f"F.threshold({x}, {py(float(a.get('threshold', 0.0)))}, "
                               f"{py(float(a.get('default_value', 0.0)))})"),
    "Relu": _relu,
    "HardSigmoid": _hard_sigmoid,
}


def activation_expr(spec: dict[str, Any] | None, x: str) -> str:
    """An activation spec ``{"op": ..., **attributes}`` (None: linear) applied to ``x``."""
    if spec is None:
        return x
    attrs = {k: v for k, v in spec.items() if k != "op"}
    if spec["op"] in ("Softmax", "LogSoftmax"):
        return _softmax(spec["op"].lower().replace("logsoftmax", "log_softmax"), x,
                        attrs.get("axis", -1))
    return _SIMPLE[spec["op"]](x, attrs)


def can_apply(spec: dict[str, Any] | None) -> bool:
    """Whether ``activation_expr`` knows the spec's op."""
    return spec is None or spec["op"] in _SIMPLE or spec["op"] in ("Softmax", "LogSoftmax")


@emitter(*_SIMPLE)
def emit_unary(ctx: ModuleContext, node: Node) -> None:
    """Elementwise activations: computed in whatever layout the input is held."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    x = ctx.get(src, layout)
    ctx.assign(node, _SIMPLE[node.op](x, ctx.attrs(node)), layout)


@emitter("Softmax", "LogSoftmax")
def emit_softmax(ctx: ModuleContext, node: Node) -> None:
    """Softmax over one axis (torch.softmax) or several (an explicit expression)."""
    src = node.inputs[0]
    layout, rank = ctx.layout(src), ctx.rank(src)
    axis = ctx.attrs(node).get("axis", -1)
    axes = [axis_in(a, rank, layout) for a in (axis if isinstance(axis, (list, tuple))
                                               else [axis])]
    fn = "softmax" if node.op == "Softmax" else "log_softmax"
    x = ctx.get(src, layout)
    if len(axes) > 1:
        x = _multi_axis(ctx, node, x, py(tuple(axes)))
    ctx.assign(node, _softmax(fn, x, axes), layout)


@emitter("Glu")
def emit_glu(ctx: ModuleContext, node: Node) -> None:
    """a * sigmoid(b) of the two halves along the axis: F.glu."""
    src = node.inputs[0]
    layout = ctx.layout(src)
    dim = axis_in(ctx.attrs(node).get("axis", -1), ctx.rank(src), layout)
    ctx.assign(node, f"F.glu({ctx.get(src, layout)}, dim={dim})", layout)


@emitter("PRelu")
def emit_prelu(ctx: ModuleContext, node: Node) -> None:
    """relu(x) - alpha * relu(-x), alpha a parameter of the layer's shape."""
    src, alpha = node.inputs
    layout, rank = ctx.layout(src), ctx.rank(src)
    x = ctx.get(src, layout)
    a = ctx.operand(node, alpha, layout, rank)
    ctx.assign(node, f"torch.relu({x}) - {a} * torch.relu(-{x})", layout)
