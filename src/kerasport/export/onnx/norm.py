"""ONNX emitters for normalization computed from the input (channels-last)."""

from __future__ import annotations

from kerasport.export.onnx.context import CL, ExportContext, emitter
from kerasport.export.onnx.helpers import scalar
from kerasport.ir.graph import Node


def _moments(ctx: ExportContext, x: str, axes: list[int], out: str) -> tuple[str, str, str]:
    mean = ctx.reduce("ReduceMean", x, axes, True, f"{out}/mean")
    centered = ctx.add("Sub", [x, mean], f"{out}/centered")
    var = ctx.reduce("ReduceMean", ctx.add("Mul", [centered, centered], f"{out}/sq"), axes,
                     True, f"{out}/var")
    return mean, centered, var


@emitter("LayerNorm")
def layer_norm(ctx: ExportContext, node: Node) -> None:
    """LayerNormalization (opset 17, trailing axes) or its decomposition."""
    a = node.attrs
    x = node.inputs[0]
    rank = ctx.rank(x)
    axes = sorted(ax % rank for ax in a.get("axes", [-1]))
    eps = float(a.get("epsilon", 1e-3))
    out = node.outputs[0]
    xin = ctx.get(x, CL)
    gamma = node.inputs[1] if len(node.inputs) > 1 else None
    beta = node.inputs[2] if len(node.inputs) > 2 else None
    trailing = axes == list(range(axes[0], rank))
    if ctx.opset >= 17 and trailing and not a.get("rms_scaling") and gamma is not None:
        norm_shape = [ctx.shape(x)[ax] for ax in axes]
        scale = ctx.const(ctx.graph.constants[gamma].reshape(norm_shape), f"{gamma}__ln")
        bias = [ctx.const(ctx.graph.constants[beta].reshape(norm_shape), f"{beta}__ln")] \
            if beta else []
        y = ctx.add("LayerNormalization", [xin, scale, *bias], out, axis=axes[0], epsilon=eps)
        ctx.set(out, y, CL)
        return
    mean, centered, var = _moments(ctx, xin, axes, out)
    inv = ctx.add("Reciprocal", [ctx.add("Sqrt", [ctx.add("Add", [var, scalar(ctx, eps, "eps")],
                                                          f"{out}/var_eps")], f"{out}/std")],
                  f"{out}/inv")
    if a.get("rms_scaling"):
        y = ctx.add("Mul", [xin, inv], f"{out}/scaled")
    else:
        y = ctx.add("Mul", [centered, inv], f"{out}/normed")
    if gamma is not None:
        y = ctx.add("Mul", [y, ctx.get(gamma, CL)], f"{out}/gamma")
    if beta is not None:
        y = ctx.add("Add", [y, ctx.get(beta, CL)], f"{out}/beta")
    ctx.set(out, ctx.add("Identity", [y], out), CL)


@emitter("GroupNorm")
def group_norm(ctx: ExportContext, node: Node) -> None:
    """Group normalization: reshape channels into groups, normalise, reshape back."""
    a = node.attrs
    x = node.inputs[0]
    rank = ctx.rank(x)
    groups = int(a.get("groups", 32))
    c = ctx.shape(x)[-1]
    out = node.outputs[0]
    xin = ctx.get(x, CL)
    grouped = ctx.add("Reshape", [xin, ctx.ints([0] * (rank - 1) + [groups, c // groups])],
                      f"{out}/grouped")
    axes = [*range(1, rank - 1), rank]
    _, centered, var = _moments(ctx, grouped, axes, out)
    std = ctx.add("Sqrt", [ctx.add("Add", [var, scalar(ctx, float(a.get("epsilon", 1e-3)), "eps")],
                                   f"{out}/var_eps")], f"{out}/std")
    normed = ctx.add("Div", [centered, std], f"{out}/normed")
    y = ctx.add("Reshape", [normed, ctx.ints([0] * (rank - 1) + [c])], f"{out}/ungrouped")
    if len(node.inputs) > 1:
        y = ctx.add("Mul", [y, ctx.get(node.inputs[1], CL)], f"{out}/gamma")
    if len(node.inputs) > 2:
        y = ctx.add("Add", [y, ctx.get(node.inputs[2], CL)], f"{out}/beta")
    ctx.set(out, ctx.add("Identity", [y], out), CL)


@emitter("L2Normalize")
def l2_normalize(ctx: ExportContext, node: Node) -> None:
    """x / max(||x||, eps)."""
    x = node.inputs[0]
    rank = ctx.rank(x)
    axes = sorted(ax % rank for ax in node.attrs.get("axes", [-1]))
    out = node.outputs[0]
    xin = ctx.get(x, CL)
    norm = ctx.reduce("ReduceL2", xin, axes, True, f"{out}/norm")
    denom = ctx.add("Max", [norm, scalar(ctx, float(node.attrs.get("epsilon", 1e-12)), "eps")],
                    f"{out}/denom")
    ctx.set(out, ctx.add("Div", [xin, denom], out), CL)


@emitter("RmsNorm")
def rms_norm(ctx: ExportContext, node: Node) -> None:
    """x / sqrt(mean(x^2) + eps) * scale."""
    x = node.inputs[0]
    rank = ctx.rank(x)
    axes = sorted(ax % rank for ax in node.attrs.get("axes", [-1]))
    out = node.outputs[0]
    xin = ctx.get(x, CL)
    ms = ctx.reduce("ReduceMean", ctx.add("Mul", [xin, xin], f"{out}/sq"), axes, True,
                    f"{out}/ms")
    eps = scalar(ctx, float(node.attrs.get("epsilon", 1e-6)), "eps")
    rms = ctx.add("Sqrt", [ctx.add("Add", [ms, eps], f"{out}/ms_eps")], f"{out}/rms")
    y = ctx.add("Div", [xin, rms], f"{out}/normed")
    if len(node.inputs) > 1:
        y = ctx.add("Mul", [y, ctx.get(node.inputs[1], CL)], out)
    ctx.set(out, y, CL)
