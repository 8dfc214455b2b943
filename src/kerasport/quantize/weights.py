"""Weight storage modes for bundles and standalone code.

- ``float32``: as converted.
- ``float16``: every float constant stored as float16 (half the size).
- ``int8``: the weight matrices and kernels of Dense/Conv-like ops stored as int8 with one
  symmetric float32 scale per output channel (the last axis); biases, normalization and every
  other constant stay float32. Dequantized at load, so inference runs in float32 at full speed.
"""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ir.graph import Graph
from kerasport.ops import get_op

WEIGHT_MODES = ("float32", "float16", "int8")


def quantizable_constants(graph: Graph) -> set[str]:
    """Constants used only as weight inputs that quantize (the op's ``quantize_inputs`` trait:
    Dense and Conv kernels, output channels on the last axis): the int8 candidates."""
    kernels, other = set(), set()
    for node in graph.nodes:
        for i, name in enumerate(node.inputs):
            if name in graph.constants:
                weight = i in get_op(node.op).traits.quantize_inputs
                (kernels if weight else other).add(name)
    return {n for n in kernels - other if graph.constants[n].ndim >= 2}


def quantize_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8: w ~= q * scale, scale shaped to broadcast."""
    axes = tuple(range(w.ndim - 1))
    peak = np.max(np.abs(w), axis=axes, keepdims=True).astype(np.float32)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_constants(graph: Graph, mode: str) -> dict[str, np.ndarray]:
    """Arrays to store for ``mode``: ``name`` (possibly int8/float16) and, for int8 kernels,
    ``name + SCALE_SUFFIX``."""
    if mode not in WEIGHT_MODES:
        raise KerasportError(f"unknown weight mode '{mode}'; choose one of {WEIGHT_MODES}")
    out: dict[str, np.ndarray] = {}
    int8 = quantizable_constants(graph) if mode == "int8" else set()
    for name, arr in graph.constants.items():
        if name in int8:
            out[name], out[name + SCALE_SUFFIX] = quantize_int8(arr)
        elif mode == "float16" and arr.dtype == np.float32:
            out[name] = arr.astype(np.float16)
        else:
            out[name] = arr
    return out


SCALE_SUFFIX = "::scale"


def dequantize(stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`quantize_constants`: float32 arrays by constant name."""
    out = {}
    for name, arr in stored.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = stored.get(name + SCALE_SUFFIX)
        if scale is not None:
            out[name] = arr.astype(np.float32) * scale
        elif arr.dtype == np.float16:
            out[name] = arr.astype(np.float32)
        else:
            out[name] = arr
    return out
