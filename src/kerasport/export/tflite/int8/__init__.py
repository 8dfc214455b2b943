"""Full-integer (int8) TFLite files computed by kerasport: activation ranges calibrated on the
NumPy runtime (``kerasport.runtime.calibrate``), TFLite's int8 rules
(``kerasport.quantize.affine``), applied as one pass over the writer's TFLite-level graph."""

from __future__ import annotations

from typing import Any

from kerasport.errors import LayerIssue, UnsupportedLayerError
from kerasport.export.tflite.int8.rewrite import FloatOp, Int8Rewriter, Int8Summary
from kerasport.quantize import affine

__all__ = ["FloatOp", "Int8Summary", "full_integer", "prune"]

FALLBACK_HINT = ("--int8-fallback float keeps such layers in float32 between DEQUANTIZE and "
                 "QUANTIZE (a hybrid file; it will not run on an Edge TPU)")


def full_integer(ctx: Any, inputs: list[int], outputs: list[int],
                 ranges: dict[str, tuple[float, float]], io_type: str = "float32",
                 allow_float: bool = False, extra: dict[int, tuple[float, float]] | None = None,
                 ) -> tuple[list[int], list[int], Int8Summary]:
    """Quantize the float32 graph in ``ctx`` (subgraph ``inputs``/``outputs``, tensor indices)
    to int8 with the calibrated ``ranges`` of its IR values; I/O as ``io_type`` (float32,
    int8, uint8). Operators without an int8 kernel are refused, listed by layer, unless
    ``allow_float``. ``extra``: ranges of intermediate tensors (by index) measured elsewhere.
    Returns the new subgraph inputs, outputs and a summary."""
    rw = Int8Rewriter(ctx, ranges)
    for i, r in (extra or {}).items():
        rw.ranges.setdefault(i, r)
    for i in inputs:
        if io_type != "float32" and rw.is_activation(i):
            r = rw.ranges.get(i)
            if r is None:
                raise UnsupportedLayerError([LayerIssue(ctx.tensors[i].name, "input",
                                                        "no calibrated range")])
            p = affine.activation_params(*r)
            rw.set_int8(i, affine.to_uint8(p) if io_type == "uint8" else p)
    for op in list(ctx.operators):
        rw.visit(op, allow_float)
    if rw.summary.float_ops and not allow_float:
        raise UnsupportedLayerError([
            LayerIssue(f.layer, f.code, f.reason, hint=FALLBACK_HINT, kind="layer")
            for f in rw.summary.float_ops])
    rw.layer = "output"
    new_outputs = []
    for o in outputs:
        if io_type == "float32":
            new_outputs.append(rw.as_float(o))
        else:
            x = rw.as_int8(o) if rw.is_activation(o) else o
            if io_type == "uint8" and x in rw.params:
                x = rw.convert(x, "uint8", affine.to_uint8(rw.params[x]))
            new_outputs.append(x)
    ctx.operators = rw.ops  # float weights replaced by int8 copies: serialize() prunes them
    return list(inputs), new_outputs, rw.summary


def prune(ctx: Any, inputs: list[int], outputs: list[int]) -> tuple[list[int], list[int]]:
    """Drop tensors no operator or subgraph I/O uses and renumber the rest, ``ctx.index``
    included (the serializer's own prune leaves the IR-value index alone: run this first when
    the index is used after a serialisation); returns the renumbered ``inputs``/``outputs``."""
    used = set(inputs) | set(outputs)
    for op in ctx.operators:
        used.update(i for i in op.inputs + op.outputs + list(op.intermediates) if i >= 0)
    new = {}
    kept = []
    for i, t in enumerate(ctx.tensors):
        if i in used:
            new[i] = len(kept)
            kept.append(t)
    ctx.tensors[:] = kept
    for op in ctx.operators:
        op.inputs = [new[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [new[i] for i in op.outputs]
        op.intermediates = [new[i] for i in op.intermediates]
    ctx.index = {k: new[v] for k, v in ctx.index.items() if v in new}
    return [new[i] for i in inputs], [new[i] for i in outputs]
