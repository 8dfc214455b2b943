"""ONNX emitters for the elementwise ops: broadcasting arithmetic, Affine and Cast
(layout-agnostic: they run in whichever layout their input already has)."""

from __future__ import annotations

from kerasport.export.onnx.context import CL, ExportContext, emitter
from kerasport.export.onnx.helpers import onnx_dtype, unary_input
from kerasport.ir.graph import Node

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div"}
_VARIADIC = {"Max": "Max", "Min": "Min", "Mean": "Mean"}


@emitter(*_BINARY, *_VARIADIC)
def elementwise(ctx: ExportContext, node: Node) -> None:
    """Broadcasting arithmetic in the inputs' layout (constants laid out to match)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(list(node.inputs))
    if any(not ctx.is_const(v) and ctx.rank(v) < rank for v in node.inputs):
        layout = CL  # a lower-rank tensor broadcasts along the trailing (channels-last) axes
    args = [ctx.operand(v, layout, rank) for v in node.inputs]
    out = node.outputs[0]
    if node.op in _VARIADIC:
        y = ctx.add(_VARIADIC[node.op], args, out)
    else:
        y = args[0]
        for i, arg in enumerate(args[1:]):
            y = ctx.add(_BINARY[node.op], [y, arg], out if i == len(args) - 2 else f"{out}/{i}")
    ctx.set(out, y, layout)


@emitter("Affine")
def affine(ctx: ExportContext, node: Node) -> None:
    """x * scale + shift (folded BatchNormalization, Rescaling, Normalization)."""
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred([node.inputs[0]])
    y = ctx.get(node.inputs[0], layout)
    out = node.outputs[0]
    if len(node.inputs) > 1:
        y = ctx.add("Mul", [y, ctx.operand(node.inputs[1], layout, rank)],
                    out if len(node.inputs) == 2 else f"{out}/scale")
    if len(node.inputs) > 2:
        y = ctx.add("Add", [y, ctx.operand(node.inputs[2], layout, rank)], out)
    ctx.set(out, y, layout)


@emitter("Cast")
def cast(ctx: ExportContext, node: Node) -> None:
    """Cast(to)."""
    x, layout = unary_input(ctx, node)
    to = onnx_dtype(node.attrs.get("dtype", "float32"))
    ctx.set(node.outputs[0], ctx.add("Cast", [x], node.outputs[0], to=to), layout)

