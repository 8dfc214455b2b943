"""Folding nodes whose inputs are all known at import (shape subgraphs, constant math) with the
ONNX reference implementation, at the model's own opset, within a size budget."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported
from kerasport.onnx_reader.files import onnx_module

# No folded tensor may hold more than this many elements (1 GiB of float32).
FOLD_MAX_ELEMENTS = 1 << 28
# Ops never folded (random, or with subgraphs whose inputs we would not see).
NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
           "Multinomial", "Bernoulli", "If", "Loop", "Scan"}


def _declared_size(node: Any, ctx: ReadContext) -> int:
    """Elements the node would produce, for the ops whose output is not bounded by their
    inputs' size (0 when not one of those)."""
    ins = [ctx.tensor(n).const if n else None for n in node.input]
    op = node.op_type
    if op == "ConstantOfShape":
        return math.prod(int(d) for d in np.asarray(ins[0]).reshape(-1))
    if op == "Range":
        start, limit, delta = (float(np.asarray(a)) for a in ins[:3])
        return 0 if delta == 0 else max(0, math.ceil((limit - start) / delta))
    if op == "Expand":
        shape = [int(d) for d in np.asarray(ins[1]).reshape(-1)]
        return math.prod(np.broadcast_shapes(ins[0].shape, tuple(max(d, 1) for d in shape)))
    if op == "Tile":
        reps = [int(d) for d in np.asarray(ins[1]).reshape(-1)]
        return math.prod(s * r for s, r in zip(ins[0].shape, reps))
    return 0


def can_fold(node: Any, ctx: ReadContext) -> bool:
    """True if every input is a constant (or absent) and the op may be folded."""
    if node.op_type in NO_FOLD or node.domain not in ("", "ai.onnx"):
        return False
    return all(ctx.is_const(n) for n in node.input)


def _inferred_size(model: Any) -> int:
    """Elements of the largest output ONNX's shape inference (with the constants' values)
    predicts; 0 when it cannot tell."""
    onnx = onnx_module()
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # inference gives up on some ops: the manual bounds still apply
        return 0
    largest = 0
    for vi in inferred.graph.output:
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            largest = max(largest, math.prod(d.dim_value for d in dims))
    return largest


def fold(node: Any, ctx: ReadContext) -> None:
    """Compute the node's outputs now and record them as constants (refused when the result
    would exceed FOLD_MAX_ELEMENTS, judged before anything is computed)."""
    onnx = onnx_module()
    from onnx.reference import ReferenceEvaluator

    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    names = [n for n in dict.fromkeys(node.input) if n]
    inits = [numpy_helper.from_array(np.asarray(ctx.tensor(n).const), n) for n in names]
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    graph = helper.make_graph([node], "fold", [], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ctx.opset)])
    size = max(_declared_size(node, ctx), _inferred_size(model))
    if size > FOLD_MAX_ELEMENTS or size < 0:
        raise Unsupported(f"would make a constant of {size} elements (over "
                          f"{FOLD_MAX_ELEMENTS}); the model is corrupt or hostile")
    try:
        results = ReferenceEvaluator(model).run(None, {})
    except Exception as exc:  # the reference raises many types for bad constants
        raise Unsupported(f"folding it failed ({type(exc).__name__}: {str(exc)[:200]})") from exc
    for name, value in zip([o for o in node.output if o], results):
        ctx.set_const(name, np.asarray(value))
