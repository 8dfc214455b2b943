"""ONNX emitters for Keras 3's newer activations (celu, hard_tanh, log_sigmoid, sparse_plus,
sparse_sigmoid, squareplus, tanh_shrink, hard_shrink, soft_shrink, threshold), composed from
standard ONNX ops that follow the runtime's kernels. The same compositions serve recurrent
layers exported as a Scan (recurrent_scan.activation)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.export.onnx.context import ExportContext, emitter
from kerasport.ir.graph import Node
from kerasport.ops.activations import NEWER_ACTIVATIONS

COMPOSED = ("Celu", "HardTanh", "LogSigmoid", "SparsePlus", "SparseSigmoid", "Squareplus",
            "TanhShrink", "HardShrink", "SoftShrink", "Threshold")


def _f(ctx: Any, value: float) -> str:
    return ctx.const(np.asarray(value, np.float32), "scalar")


def compose(ctx: Any, op: str, x: str, out: str, attrs: dict[str, Any]) -> str:
    """ONNX nodes computing IR activation ``op`` (one of COMPOSED) of ONNX tensor ``x``;
    returns the name of the result (built under ``out``)."""
    if op == "Celu":
        return ctx.add("Celu", [x], out, alpha=float(attrs.get("alpha", 1.0)))
    if op == "HardTanh":
        return ctx.add("Clip", [x, _f(ctx, -1.0), _f(ctx, 1.0)], out)
    if op == "SparseSigmoid":
        half = ctx.add("Mul", [ctx.add("Add", [x, _f(ctx, 1.0)], f"{out}/x+1"), _f(ctx, 0.5)],
                       f"{out}/half")
        return ctx.add("Clip", [half, _f(ctx, 0.0), _f(ctx, 1.0)], out)
    if op == "LogSigmoid":  # min(x, 0) - log(1 + exp(-|x|))
        e = ctx.add("Exp", [ctx.add("Neg", [ctx.add("Abs", [x], f"{out}/abs")], f"{out}/neg")],
                    f"{out}/exp")
        log = ctx.add("Log", [ctx.add("Add", [e, _f(ctx, 1.0)], f"{out}/1+e")], f"{out}/log")
        return ctx.add("Sub", [ctx.add("Min", [x, _f(ctx, 0.0)], f"{out}/min"), log], out)
    if op == "SparsePlus":  # 0 (x <= -1), (x + 1)^2 / 4 (x < 1), x
        p = ctx.add("Add", [x, _f(ctx, 1.0)], f"{out}/x+1")
        mid = ctx.add("Mul", [ctx.add("Mul", [p, p], f"{out}/sq"), _f(ctx, 0.25)], f"{out}/mid")
        upper = ctx.add("Where", [ctx.add("Less", [x, _f(ctx, 1.0)], f"{out}/lt1"), mid, x],
                        f"{out}/upper")
        low = ctx.add("LessOrEqual", [x, _f(ctx, -1.0)], f"{out}/le-1")
        return ctx.add("Where", [low, _f(ctx, 0.0), upper], out)
    if op == "Squareplus":  # (x + sqrt(x^2 + b)) / 2
        root = ctx.add("Sqrt", [ctx.add("Add", [ctx.add("Mul", [x, x], f"{out}/sq"),
                                                _f(ctx, float(attrs.get("b", 4.0)))],
                                        f"{out}/sq+b")], f"{out}/sqrt")
        return ctx.add("Mul", [ctx.add("Add", [x, root], f"{out}/sum"), _f(ctx, 0.5)], out)
    if op == "TanhShrink":
        return ctx.add("Sub", [x, ctx.add("Tanh", [x], f"{out}/tanh")], out)
    if op in ("HardShrink", "SoftShrink"):  # Shrink: x -/+ bias beyond +-lambd, else 0
        t = float(attrs.get("threshold", 0.5))
        return ctx.add("Shrink", [x], out, lambd=t, bias=t if op == "SoftShrink" else 0.0)
    if op == "Threshold":
        above = ctx.add("Greater", [x, _f(ctx, float(attrs["threshold"]))], f"{out}/above")
        return ctx.add("Where", [above, x, _f(ctx, float(attrs["default_value"]))], out)
    raise ValueError(f"no ONNX composition for activation op {op!r}")


def compose_named(ctx: Any, name: str, x: str, out: str) -> str | None:
    """The newer Keras activation ``name`` (Keras' defaults) of ONNX tensor ``x``, or None if
    ``name`` is not one of them."""
    if name not in NEWER_ACTIVATIONS:
        return None
    op, attrs = NEWER_ACTIVATIONS[name]
    return compose(ctx, op, x, out, attrs)


@emitter(*COMPOSED)
def newer_activation(ctx: ExportContext, node: Node) -> None:
    """Elementwise, in whichever layout the input already has."""
    layout = ctx.preferred([node.inputs[0]])
    x = ctx.get(node.inputs[0], layout)
    out = node.outputs[0]
    ctx.set(out, compose(ctx, node.op, x, out, node.attrs), layout)
