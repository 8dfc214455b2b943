"""ONNX model -> IR graph: initializers become constants, nodes whose inputs are all known are
folded, every other node goes through its family's converter; one error lists every node that
cannot be converted."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kerasport.errors import LayerIssue, ModelFileError, UnsupportedLayerError
from kerasport.ir.graph import Graph
from kerasport.onnx_reader.context import ReadContext, Unsupported, identity
from kerasport.onnx_reader.files import DTYPES, ONNX_DOMAINS, onnx_module, read_model
from kerasport.onnx_reader.fold import can_fold, fold
from kerasport.onnx_reader.registry import get_converter


def _attrs(node: Any) -> dict[str, Any]:
    helper = onnx_module().helper
    out = {}
    for a in node.attribute:
        if a.type in (5, 10):  # GRAPH, GRAPHS
            raise Unsupported(f"attribute '{a.name}' holds a subgraph (control flow is not "
                              "supported)")
        value = helper.get_attribute_value(a)
        out[a.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _dims(value_info: Any, override: tuple | None) -> tuple:
    if override is not None:
        return tuple(None if d is None or d == -1 else int(d) for d in override)
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                 for d in dims)


def _declare_inputs(model: Any, ctx: ReadContext, shapes: dict[str, tuple]) -> list[str]:
    helper = onnx_module().helper
    inits = {t.name for t in model.graph.initializer}
    names = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        if not vi.type.HasField("tensor_type"):
            raise ModelFileError(f"{ctx.path}: input '{vi.name}' is not a tensor (sequences "
                                 "and maps are not supported)")
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
        if str(dtype) not in DTYPES:
            raise UnsupportedLayerError([LayerIssue(vi.name, "input", f"dtype {dtype} is not "
                                                    "supported (bool, ints and floats are)")])
        has_shape = vi.type.tensor_type.HasField("shape")
        shape = _dims(vi, shapes.get(vi.name)) if has_shape or vi.name in shapes else None
        ir = ctx.b.input(vi.name, shape, str(dtype))
        ctx.set(vi.name, ir)
        names.append(ir)
    return names


def _node_name(node: Any, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


def _convert_node(node: Any, ctx: ReadContext) -> None:
    if node.domain not in ONNX_DOMAINS:
        raise Unsupported(f"custom domain '{node.domain}' (only the default ONNX domain is "
                          "read)")
    attrs = _attrs(node)
    if can_fold(node, ctx):
        fold(node, ctx)
        return
    fn = get_converter(node.op_type)
    if fn is None:
        raise Unsupported("no converter for this ONNX op")
    fn(ctx, node, attrs)


def _row(node: Any, ctx: ReadContext, inits: dict[str, int], ok: bool) -> tuple:
    shape = None
    if ok and node.output and node.output[0] in ctx.tensors:
        shape = ctx.sym_shape(node.output[0])
    params = sum(inits.get(n, 0) for n in node.input)
    return (ctx.layer, node.op_type, shape, params, ok)


def _walk(model: Any, ctx: ReadContext, rows: list | None = None) -> list[LayerIssue]:
    """Convert every node; returns the issues (a node fed by a failed one is skipped, so that
    only the root causes are listed). ``rows`` collects (name, op type, shape, parameters,
    converted?) per node."""
    issues = []
    failed: set[str] = set()
    inits = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    for index, node in enumerate(model.graph.node):
        ctx.layer = _node_name(node, index)
        if any(n in failed for n in node.input):
            failed.update(o for o in node.output if o)
            if rows is not None:
                rows.append(_row(node, ctx, inits, False))
            continue
        try:
            _convert_node(node, ctx)
            missing = [o for o in node.output if o and o not in ctx.tensors]
            if missing:
                raise Unsupported(f"outputs {missing} are not produced by the converter")
        except Unsupported as exc:
            kind = node.op_type if node.domain in ONNX_DOMAINS else f"{node.domain}::" \
                f"{node.op_type}"
            issues.append(LayerIssue(ctx.layer, kind, str(exc)))
            failed.update(o for o in node.output if o)
        if rows is not None:
            rows.append(_row(node, ctx, inits, not failed.intersection(node.output)))
    return issues


def _outputs(model: Any, ctx: ReadContext) -> list[str]:
    outs = []
    for vi in model.graph.output:
        t = ctx.tensor(vi.name)
        if t.const is not None or t.sym is not None:
            raise UnsupportedLayerError([LayerIssue(vi.name, "output", "the output is a "
                                                    "constant (it does not depend on the "
                                                    "inputs)")])
        outs.append(ctx.ir(vi.name, identity(ctx.rank(vi.name) or 0)))
    return outs


def read_onnx(path: str | os.PathLike, input_shapes: dict[str, tuple] | None = None,
              ) -> tuple[Graph, dict[str, Any]]:
    """The IR graph of an .onnx file and facts about it (opset, producer, layout transposes).
    ``input_shapes`` fixes free input dims by input name (None or -1 keeps a dim free).
    Inputs and outputs keep ONNX's axis order (NCHW stays NCHW)."""
    path = os.fspath(path)
    model, opset = read_model(path)
    ctx = ReadContext(opset, path)
    numpy_helper = onnx_module().numpy_helper
    for t in model.graph.initializer:
        ctx.set_const(t.name, numpy_helper.to_array(t))
    inputs = _declare_inputs(model, ctx, dict(input_shapes or {}))
    if not inputs:
        raise ModelFileError(f"{path}: the graph has no inputs")
    issues = _walk(model, ctx)
    if issues:
        raise UnsupportedLayerError(issues)
    outputs = _outputs(model, ctx)
    names = [vi.name for vi in model.graph.output]
    graph = ctx.b.finish(inputs, outputs, "single" if len(inputs) == 1 else "list",
                         "single" if len(outputs) == 1 else "list",
                         model.graph.name or os.path.splitext(os.path.basename(path))[0],
                         names)
    facts = {"opset": opset, "producer": f"{model.producer_name} {model.producer_version}"
             .strip(), "layout_transposes": ctx.transposes, "onnx_nodes": len(model.graph.node)}
    return graph, facts


def inspect_onnx(path: str | os.PathLike) -> tuple[list[tuple], list[LayerIssue]]:
    """Rows (node name, op type, output shape, parameters, converted?) and the issues of every
    node of an .onnx file, without raising on unsupported nodes."""
    path = os.fspath(path)
    model, opset = read_model(path)
    ctx = ReadContext(opset, path)
    numpy_helper = onnx_module().numpy_helper
    for t in model.graph.initializer:
        ctx.set_const(t.name, numpy_helper.to_array(t))
    _declare_inputs(model, ctx, {})
    rows: list[tuple] = []
    issues = _walk(model, ctx, rows)
    return rows, issues
