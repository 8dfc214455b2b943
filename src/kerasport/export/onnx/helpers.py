"""What the ONNX emitters share: element type codes, scalar constants, the Keras -> ONNX
convolution kernel layout, Keras padding as ONNX pads and the input of a layout-agnostic unary
op. Imports no onnx."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kerasport.ops.conv import same_pads

# onnx.TensorProto element types (numbers from the ONNX spec, so this module imports no onnx)
FLOAT, UINT8, INT8, INT32, INT64, BOOL, FLOAT16 = 1, 2, 3, 6, 7, 9, 10
ONNX_DTYPES = {"float32": FLOAT, "uint8": UINT8, "int8": INT8, "int32": INT32, "int64": INT64,
               "bool": BOOL, "float16": FLOAT16}
NUMPY_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64, "uint8": np.uint8,
                "int8": np.int8, "bool": np.bool_, "float16": np.float16}


def onnx_dtype(name: str) -> int:
    """The ONNX element type of a NumPy dtype name."""
    return ONNX_DTYPES[name]


def scalar(ctx: Any, value: float, base: str = "scalar", dtype: str = "float32") -> str:
    """A 0-d constant of ``dtype`` (float32 unless told; unknown names give float32)."""
    return ctx.const(np.asarray(value, NUMPY_DTYPES.get(dtype, np.float32)), base)


def onnx_conv_kernel(w: np.ndarray) -> np.ndarray:
    """A Keras convolution kernel (*k, C, F) in ONNX Conv's layout (F, C, *k)."""
    r = w.ndim - 2
    return np.transpose(w, (r + 1, r, *range(r)))


def value_pads(ctx: Any, x: str, ksize: Sequence[int], strides: Sequence[int],
               dilations: Sequence[int], padding: str) -> dict:
    """ONNX pads (or auto_pad) for Keras ``padding`` of a window sliding over the spatial axes
    of the channels-last IR value ``x``."""
    return conv_pads(ctx.shape(x)[1:1 + len(ksize)], ksize, strides, dilations, padding)


def unary_input(ctx: Any, node: Any) -> tuple[str, str]:
    """(ONNX input name, layout) of a single-input layout-agnostic op: it runs in whichever
    layout its input already has."""
    layout = ctx.preferred([node.inputs[0]])
    return ctx.get(node.inputs[0], layout), layout


def conv_pads(sizes: Sequence[int | None], ksize: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int], padding: str) -> dict:
    """ONNX ``pads`` (or ``auto_pad``) for Keras ``padding`` (valid, causal, same) of a
    convolution over spatial ``sizes`` (None when unknown)."""
    r = len(ksize)
    if padding == "valid":
        return {"pads": [0] * (2 * r)}
    if padding == "causal":
        return {"pads": [(k - 1) * d for k, d in zip(ksize, dilations)] + [0] * r}
    if None in sizes:
        return {"auto_pad": "SAME_UPPER"}  # TensorFlow's rule: the odd pixel at the end
    pairs = [same_pads(s, k, st, d) for s, k, st, d in zip(sizes, ksize, strides, dilations)]
    return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}
