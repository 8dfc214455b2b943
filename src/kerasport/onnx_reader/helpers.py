"""Helpers the converters share: aligning operands of elementwise ops, mapping axes through a
tensor's axis order, spatial padding."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.onnx_reader.context import ReadContext, Unsupported, identity


def out(node: Any, i: int = 0) -> str:
    """The name of output ``i`` of ``node``."""
    return node.output[i]


def inputs(node: Any) -> list[str]:
    """The node's input names ("" for an absent optional one), trailing absent ones dropped."""
    names = list(node.input)
    while names and names[-1] == "":
        names.pop()
    return names


def optional(node: Any, i: int) -> str:
    """Input ``i`` of ``node``, or "" if absent."""
    return node.input[i] if len(node.input) > i else ""


def axis_of(ctx: ReadContext, name: str, axis: int) -> int:
    """ONNX axis ``axis`` of tensor ``name`` as an axis of its IR value."""
    rank = ctx.rank(name)
    if rank is None:
        raise Unsupported(f"the rank of '{name}' is unknown")
    return ctx.perm(name).index(axis % rank)


def aligned(ctx: ReadContext, names: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """IR values of elementwise operands in one common axis order (the first dynamic operand
    of the highest rank decides; constants are reshaped to that rank and transposed; a
    dynamic operand of lower rank moves everything to ONNX order)."""
    ranks = [ctx.rank(n) for n in names]
    if any(r is None for r in ranks):
        return [ctx.ir(n) for n in names], ()
    top = max(ranks)
    dynamic = [n for n, r in zip(names, ranks) if not ctx.is_const(n) and r == top]
    perm = ctx.perm(dynamic[0]) if dynamic else identity(top)
    if any(not ctx.is_const(n) and r < top for n, r in zip(names, ranks)):
        perm = identity(top)
    result = []
    for n, r in zip(names, ranks):
        if ctx.is_const(n):
            arr = np.asarray(ctx.const(n))
            if perm != identity(top):
                arr = arr.reshape((1,) * (top - r) + arr.shape).transpose(perm)
            result.append(ctx.ir_const(n, arr))
        elif r == top:
            result.append(ctx.ir(n, perm))
        else:
            result.append(ctx.ir(n))
    return result, perm


def spatial_pads(pads: list[int] | None, r: int) -> list[tuple[int, int]]:
    """ONNX pads [b1, .., br, a1, .., ar] as (before, after) per spatial axis."""
    pads = list(pads or [0] * (2 * r))
    return [(pads[i], pads[r + i]) for i in range(r)]


def auto_pads(auto_pad: str, sizes: tuple, ksize: list[int], strides: list[int],
              dilations: list[int]) -> list[tuple[int, int]] | None:
    """Explicit (before, after) pads for SAME_UPPER / SAME_LOWER (None for NOTSET/VALID)."""
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return None
    result = []
    for s, k, st, d in zip(sizes, ksize, strides, dilations):
        if s is None:
            raise Unsupported(f"auto_pad={auto_pad} needs the spatial size, which is free")
        o = -(-s // st)
        total = max((o - 1) * st + (k - 1) * d + 1 - s, 0)
        small, big = total // 2, total - total // 2
        result.append((small, big) if auto_pad == "SAME_UPPER" else (big, small))
    return result


def pad_ir(ctx: ReadContext, value: str, pads: list[tuple[int, int]], fill: float,
           name: str) -> str:
    """Pad the spatial axes of a channels-last IR value (nothing if all pads are 0)."""
    if all(b == 0 and a == 0 for b, a in pads):
        return value
    margins = [[int(b), int(a)] for b, a in pads]
    return ctx.op("SpatialPad", [value], f"{name}/pad", {"margins": margins,
                                                          "value": float(fill)})
