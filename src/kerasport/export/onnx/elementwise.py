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



_MATH = {"sqrt": "Sqrt", "log": "Log", "neg": "Neg", "abs": "Abs", "reciprocal": "Reciprocal",
         "floor": "Floor", "ceil": "Ceil", "erf": "Erf", "sin": "Sin", "cos": "Cos",
         "sign": "Sign", "round": "Round"}


@emitter("Math")
def math_fn(ctx: ExportContext, node: Node) -> None:
    """One ONNX op per function (Sqrt, Log, Neg, ...)."""
    x, layout = unary_input(ctx, node)
    op = _MATH[node.attrs.get("fn", "sqrt")]
    ctx.set(node.outputs[0], ctx.add(op, [x], node.outputs[0]), layout)


def _broadcasting(ctx: ExportContext, node: Node, op: str, inputs: list[str],
                  **attrs) -> None:
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(inputs)
    if any(not ctx.is_const(v) and ctx.rank(v) < rank for v in inputs):
        layout = CL
    args = [ctx.operand(v, layout, rank) for v in inputs]
    ctx.set(node.outputs[0], ctx.add(op, args, node.outputs[0], **attrs), layout)


@emitter("Pow")
def pow_(ctx: ExportContext, node: Node) -> None:
    """Pow(a, b)."""
    _broadcasting(ctx, node, "Pow", list(node.inputs))


@emitter("Where")
def where(ctx: ExportContext, node: Node) -> None:
    """Where(cond, a, b) from the IR's (a, b, cond)."""
    a, b, cond = node.inputs
    _broadcasting(ctx, node, "Where", [cond, a, b])


_COMPARE = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
            "greater": "Greater", "greater_equal": "GreaterOrEqual"}
_LOGIC = {"not": "Not", "and": "And", "or": "Or", "xor": "Xor"}


@emitter("Compare")
def compare(ctx: ExportContext, node: Node) -> None:
    """Equal / Less / LessOrEqual / Greater / GreaterOrEqual."""
    _broadcasting(ctx, node, _COMPARE[node.attrs.get("mode", "equal")], list(node.inputs))


@emitter("Logic")
def logic(ctx: ExportContext, node: Node) -> None:
    """Not / And / Or / Xor."""
    ins = [v for v in node.inputs if v]
    _broadcasting(ctx, node, _LOGIC[node.attrs.get("mode", "not")], ins)


@emitter("Mod")
def mod(ctx: ExportContext, node: Node) -> None:
    """Mod(fmod); a float mod with the divisor's sign before opset 28 is a - b floor(a / b)."""
    fmod = bool(node.attrs.get("fmod"))
    if fmod or ctx.graph.values[node.inputs[0]].dtype[0] != "f" or ctx.opset >= 28:
        _broadcasting(ctx, node, "Mod", list(node.inputs), fmod=int(fmod))
        return
    rank = ctx.rank(node.outputs[0])
    layout = ctx.preferred(list(node.inputs))
    if any(not ctx.is_const(v) and ctx.rank(v) < rank for v in node.inputs):
        layout = CL
    a, b = (ctx.operand(v, layout, rank) for v in node.inputs)
    out = node.outputs[0]
    floor = ctx.add("Floor", [ctx.add("Div", [a, b], f"{out}/div")], f"{out}/floor")
    y = ctx.add("Sub", [a, ctx.add("Mul", [b, floor], f"{out}/mul")], out)
    ctx.set(out, y, layout)
