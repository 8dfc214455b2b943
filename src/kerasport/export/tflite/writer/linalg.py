"""Matrix products: FULLY_CONNECTED (Dense with a weight kernel), BATCH_MATMUL, einsums of one
or two operands."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import TFLiteContext, emitter
from kerasport.export.tflite.writer.conv import reshape
from kerasport.export.tflite.writer.helpers import (
    alias,
    const,
    fused_output,
    ints,
    options,
    rank,
    read,
    temp,
    tshape,
    write,
)
from kerasport.ir.graph import Node


@emitter("Dense", fuses=True)
def dense(ctx: TFLiteContext, node: Node) -> None:
    """x (..., K) @ kernel (K, U) + bias -> FULLY_CONNECTED with weights (U, K), keeping the
    leading dims; a computed kernel -> BATCH_MATMUL (+ ADD)."""
    x = read(ctx, node.inputs[0])
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    if not ctx.is_const(node.inputs[1]):
        return _dense_matmul(ctx, node, x, bias)
    kernel = ctx.const_value(node.inputs[1])
    w = const(ctx, np.ascontiguousarray(kernel.T), f"{node.inputs[1]}/t")
    out, act = fused_output(ctx, node.outputs[0])
    opts = options("FullyConnectedOptions", fusedActivationFunction=act,
                   keepNumDims=rank(ctx, node.inputs[0]) > 2)
    ctx.op("FULLY_CONNECTED", [x, w, read(ctx, bias) if bias else -1], [out], opts)
    return None


def _dense_matmul(ctx: TFLiteContext, node: Node, x: int, bias: str) -> None:
    out, act = fused_output(ctx, node.outputs[0])
    mid = temp(ctx, f"{node.outputs[0]}/matmul", ctx.shape(node.outputs[0])) if bias else out
    ctx.op("BATCH_MATMUL", [x, read(ctx, node.inputs[1])], [mid],
           options("BatchMatMulOptions"))
    if bias:
        ctx.op("ADD", [mid, read(ctx, bias)], [out],
               options("AddOptions", fusedActivationFunction=act))


@emitter("MatMul")
def matmul(ctx: TFLiteContext, node: Node) -> None:
    """a @ b (or a @ b^T) -> BATCH_MATMUL with adj_y."""
    a, b = read(ctx, node.inputs[0]), read(ctx, node.inputs[1])
    ctx.op("BATCH_MATMUL", [a, b], [write(ctx, node.outputs[0])],
           options("BatchMatMulOptions", adjY=bool(node.attrs.get("transpose_b", False))))


def _spell(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """The equation's operand and output specs with '...' spelled out as letters."""
    lhs, out = equation.replace(" ", "").split("->")
    specs = lhs.split(",")
    spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in equation]
    n_ell = max((r - (len(s) - 3) for s, r in zip(specs, ranks) if "..." in s), default=0)
    ell = "".join(spare[:n_ell][::-1])
    spelled = [s.replace("...", ell[n_ell - (r - (len(s) - 3)):]) if "..." in s else s
               for s, r in zip(specs, ranks)]
    return spelled, out.replace("...", ell)


def _permute(ctx: TFLiteContext, x: int, spec: str, order: str) -> int:
    if spec == order:
        return x
    perm = [spec.index(c) for c in order]
    data = ctx.tensors[x].data
    if data is not None:  # a weight: transposed here, not at run time
        return const(ctx, np.transpose(data, perm), f"{ctx.tensors[x].name}/t")
    shape = tshape(ctx, x)
    out = temp(ctx, f"{ctx.tensors[x].name}/t", [shape[p] for p in perm])
    ctx.op("TRANSPOSE", [x, ints(ctx, perm, "perm")], [out])
    return out


def _sum_out(ctx: TFLiteContext, x: int, spec: str, keep: set[str]) -> tuple[int, str]:
    """SUM over the letters of ``spec`` not in ``keep``."""
    axes = [i for i, c in enumerate(spec) if c not in keep]
    if not axes:
        return x, spec
    shape = tshape(ctx, x)
    out = temp(ctx, f"{ctx.tensors[x].name}/sum",
               [d for i, d in enumerate(shape) if i not in axes])
    ctx.op("SUM", [x, ints(ctx, axes, "axes")], [out], options("ReducerOptions"))
    return out, "".join(c for c in spec if c in keep)


def _prod(dims: list) -> int | None:
    return None if None in dims else int(np.prod(dims, dtype=np.int64))


@emitter("Einsum")
def einsum(ctx: TFLiteContext, node: Node) -> None:
    """One or two operands: SUM over letters used once, then for two operands TRANSPOSE to
    (batch, free, contracted) / (batch, contracted, free), RESHAPE to matrices,
    BATCH_MATMUL, RESHAPE and TRANSPOSE to the output's order."""
    xs = [read(ctx, v) for v in node.inputs]
    if len(xs) > 2:
        raise KerasportError(f"layer '{node.layer}': an einsum of {len(xs)} operands has no "
                             "TFLite form in kerasport's writer")
    specs, out = _spell(node.attrs["equation"], [len(tshape(ctx, x)) for x in xs])
    if any(len(set(s)) != len(s) for s in specs):
        raise KerasportError(f"layer '{node.layer}': einsum with a repeated index "
                             f"({node.attrs['equation']}) has no TFLite form")
    size = {c: d for x, s in zip(xs, specs) for c, d in zip(s, tshape(ctx, x))
            if d is not None}
    for i, s in enumerate(specs):
        others = set(out).union(*(set(o) for j, o in enumerate(specs) if j != i))
        xs[i], specs[i] = _sum_out(ctx, xs[i], s, others)
    if len(xs) == 1:
        return alias(ctx, node.outputs[0], _permute(ctx, xs[0], specs[0], out))
    (a, b), (sa, sb) = xs, specs
    batch = [c for c in out if c in sa and c in sb]
    left = [c for c in out if c in sa and c not in sb]
    right = [c for c in out if c in sb and c not in sa]
    inner = [c for c in sa if c in sb and c not in out]
    if not batch and ctx.tensors[b].data is not None:
        return _einsum_fc(ctx, node, (a, sa, b, sb), (left, inner, right), size, out)
    dims = [size.get(c) for c in batch]
    a = reshape(ctx, _permute(ctx, a, sa, "".join(batch + left + inner)),
                [*dims, _prod([size.get(c) for c in left]), _prod([size.get(c) for c in inner])])
    b = reshape(ctx, _permute(ctx, b, sb, "".join(batch + inner + right)),
                [*dims, _prod([size.get(c) for c in inner]), _prod([size.get(c) for c in right])])
    y = temp(ctx, f"{node.outputs[0]}/matmul", [*dims, _prod([size.get(c) for c in left]),
                                                _prod([size.get(c) for c in right])])
    ctx.op("BATCH_MATMUL", [a, b], [y], options("BatchMatMulOptions"))
    y = reshape(ctx, y, [size.get(c) for c in batch + left + right])
    return alias(ctx, node.outputs[0], _permute(ctx, y, "".join(batch + left + right), out))


def _einsum_fc(ctx: TFLiteContext, node: Node, operands: tuple, letters: tuple, size: dict,
               out: str) -> None:
    """x (free letters, contracted) times a weight: FULLY_CONNECTED over the merged
    contracted letters, keeping x's other dims as they are (free ones included)."""
    a, sa, b, sb = operands
    left, inner, right = letters
    k, r = _prod([size[c] for c in inner]), _prod([size[c] for c in right])
    a = _permute(ctx, a, sa, "".join(left + inner))
    a = reshape(ctx, a, [size.get(c) for c in left] + [k])
    w = np.transpose(ctx.tensors[b].data, [sb.index(c) for c in right + inner]).reshape(r, k)
    y = temp(ctx, f"{node.outputs[0]}/fc", [size.get(c) for c in left] + [r])
    ctx.op("FULLY_CONNECTED", [a, const(ctx, np.ascontiguousarray(w), f"{node.inputs[1]}/fc"),
                               -1], [y],
           options("FullyConnectedOptions", keepNumDims=True))
    y = reshape(ctx, y, [size.get(c) for c in left + right])
    alias(ctx, node.outputs[0], _permute(ctx, y, "".join(left + right), out))
