"""Weight quantization passes on the TFLite-level graph (before serialisation).

- float16: every float32 constant is stored as float16 and turned back into float32 by a
  DEQUANTIZE at the start of the graph (LiteRT folds it at load time).
- dynamic: the weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (int8, symmetric,
  one scale per output channel) and of UNIDIRECTIONAL_SEQUENCE_LSTM (int8, one scale per
  matrix) — TFLite's hybrid kernels then quantize activations on the fly; embedding tables
  read by GATHER as int8 (one scale), the gathered rows turned back into float32 by a
  DEQUANTIZE. Weights of fewer than ``MIN_DYNAMIC_ELEMENTS`` elements stay float32, as in
  TensorFlow's converter.
"""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import Operator, Quant, TFLiteContext
from kerasport.export.tflite.writer.helpers import tensor

MIN_DYNAMIC_ELEMENTS = 1024
MIN_FLOAT16_ELEMENTS = 16
# op -> {input position: quantized dimension (-1: one scale for the whole tensor)}
HYBRID_WEIGHTS: dict[str, dict[int, int]] = {
    "CONV_2D": {1: 0},
    "DEPTHWISE_CONV_2D": {1: 3},
    "FULLY_CONNECTED": {1: 0},
    "UNIDIRECTIONAL_SEQUENCE_LSTM": {i: -1 for i in range(1, 9)},
}


def symmetric_int8(w: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 values, scales): w / scale rounded to [-127, 127], one scale per index of
    ``dim`` (or one for all when dim is -1); an all-zero channel gets scale 1."""
    if dim < 0:
        peak = np.asarray([np.abs(w).max()], np.float64)
    else:
        axes = tuple(a for a in range(w.ndim) if a != dim)
        peak = np.abs(w).max(axis=axes).astype(np.float64)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    shape = [1] * w.ndim
    if dim >= 0:
        shape[dim] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def _consumers(ctx: TFLiteContext) -> dict[int, list[tuple[Operator, int]]]:
    out: dict[int, list[tuple[Operator, int]]] = {}
    for op in ctx.operators:
        for pos, t in enumerate(op.inputs):
            if t >= 0:
                out.setdefault(t, []).append((op, pos))
    return out


def _float16(ctx: TFLiteContext) -> None:
    deq = []
    for index, t in enumerate(list(ctx.tensors)):
        if t.data is None or t.dtype != "float32" or t.data.size < MIN_FLOAT16_ELEMENTS:
            continue
        half = tensor(ctx, f"{t.name}/float16", t.data.shape, "float16",
                      t.data.astype(np.float16))
        t.data = None
        deq.append(Operator("DEQUANTIZE", [half], [index]))
    ctx.operators[:0] = deq


def _dynamic(ctx: TFLiteContext) -> None:
    done: dict[int, int] = {}
    for index, uses in _consumers(ctx).items():
        t = ctx.tensors[index]
        if t.data is None or t.dtype != "float32" or t.data.size < MIN_DYNAMIC_ELEMENTS:
            continue
        dims = {HYBRID_WEIGHTS.get(op.code, {}).get(pos) for op, pos in uses}
        if None in dims or len(dims) != 1:
            continue  # a constant some other op also reads stays float32
        dim = dims.pop()
        q, scale = symmetric_int8(t.data, dim)
        quant = Quant(scale.tolist(), [0] * scale.size, max(dim, 0))
        done[index] = tensor(ctx, f"{t.name}/int8", q.shape, "int8", q, quant)
        for op, pos in uses:
            op.inputs[pos] = done[index]
        t.data = None


def _gather_tables(ctx: TFLiteContext) -> None:
    """GATHER of a float32 constant table: int8 table, int8 rows, DEQUANTIZE to float32."""
    uses = _consumers(ctx)
    ops = []
    for op in ctx.operators:
        ops.append(op)
        table = op.inputs[0] if op.code == "GATHER" else -1
        t = ctx.tensors[table] if table >= 0 else None
        if (t is None or t.data is None or t.dtype != "float32"
                or t.data.size < MIN_DYNAMIC_ELEMENTS or len(uses.get(table, [])) != 1):
            continue
        q, scale = symmetric_int8(t.data, -1)
        quant = Quant(scale.tolist(), [0])
        op.inputs[0] = tensor(ctx, f"{t.name}/int8", q.shape, "int8", q, quant)
        t.data = None
        out = ctx.tensors[op.outputs[0]]
        rows = tensor(ctx, f"{out.name}/int8", _ir_shape(out), "int8",
                      quant=Quant(scale.tolist(), [0]))
        ops.append(Operator("DEQUANTIZE", [rows], [op.outputs[0]], layer=op.layer))
        op.outputs[0] = rows
    ctx.operators[:] = ops


def _ir_shape(t) -> list[int | None]:
    sig = t.signature or t.shape
    return [None if s == -1 else d for d, s in zip(t.shape, sig)]


def quantize_weights(ctx: TFLiteContext, mode: str) -> None:
    """Quantize the constants of ``ctx`` (and of its WHILE subgraphs) in place: ``float16``
    or ``dynamic``."""
    for sub, *_ in ctx.subgraphs:
        quantize_weights(sub, mode)
    if mode == "float16":
        _float16(ctx)
    elif mode == "dynamic":
        _dynamic(ctx)
        _gather_tables(ctx)
    else:
        raise KerasportError(f"unknown weight quantization '{mode}'")
