"""What the PyTorch emitters share: the emitter registry, the layout rule and literals.

Layout: the IR is channels-last; the generated module is channels-first inside. Every value of
rank >= 3 carries a layout tag, "cl" (as in the IR) or "cf" (the last axis moved to axis 1).
Spatial emitters (convolution, pooling, resizing, group norm) ask for "cf"; emitters whose
axes matter (reshape, dense, recurrent ...) ask for "cl"; elementwise ones keep what they get.
A value is converted at most once per direction, so an image input is permuted once at the
boundary and outputs are permuted back once before ``return``. Imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kerasport.errors import KerasportError

# op -> emitter(ctx, node); op -> reason it has no PyTorch form
EMITTERS: dict[str, Callable[..., None]] = {}
UNAVAILABLE: dict[str, str] = {}

TORCH_DTYPES = {"float32": "torch.float32", "float16": "torch.float16", "int32": "torch.int32",
                "int64": "torch.int64", "uint8": "torch.uint8", "int8": "torch.int8",
                "bool": "torch.bool", "float64": "torch.float64"}


def emitter(*ops: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated function as the PyTorch emitter of ``ops``; refuses an op
    registered twice (or declared unavailable)."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        for name in ops:
            if name in EMITTERS or name in UNAVAILABLE:
                raise KerasportError(f"PyTorch emitter for '{name}' registered twice")
            EMITTERS[name] = fn
        return fn

    return deco


def unavailable(op: str, reason: str) -> None:
    """Declare that ``op`` has no PyTorch form, and why."""
    if op in EMITTERS or op in UNAVAILABLE:
        raise KerasportError(f"PyTorch emitter for '{op}' registered twice")
    UNAVAILABLE[op] = reason


def to_cf_axis(axis: int, rank: int) -> int:
    """Where IR axis ``axis`` (channels-last) sits once the channels moved to axis 1."""
    a = axis % rank
    if a == 0:
        return 0
    return 1 if a == rank - 1 else a + 1


def axis_in(axis: int, rank: int, layout: str) -> int:
    """IR axis ``axis`` of a rank-``rank`` value stored in ``layout``."""
    return to_cf_axis(axis, rank) if layout == "cf" else axis % rank


def const_to_layout(arr: np.ndarray, rank: int, layout: str) -> np.ndarray:
    """A constant broadcast against a rank-``rank`` channels-last value, rearranged to
    broadcast the same way against it in ``layout`` (its leading 1s made explicit)."""
    if layout != "cf" or arr.ndim == 0:
        return arr
    full = arr.reshape((1,) * (rank - arr.ndim) + arr.shape) if arr.ndim < rank else arr
    return np.ascontiguousarray(np.moveaxis(full, -1, 1))


def py(value: Any) -> str:
    """A Python literal for an attribute value (tuples for sequences, floats as repr)."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if np.isinf(f):
            return "float('inf')" if f > 0 else "float('-inf')"
        return repr(f)
    if isinstance(value, (list, tuple)):
        items = [py(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "None"
    raise KerasportError(f"cannot write the attribute value {str(value)[:40]} as Python")


def pylist(values: Sequence[Any]) -> str:
    """A list literal (TorchScript wants lists, not tuples, for ``list[int]`` arguments)."""
    return "[" + ", ".join(py(v) for v in values) + "]"


def torch_weight_conv(kernel: np.ndarray) -> np.ndarray:
    """A Keras convolution kernel (*k, C, F) in torch's (F, C, *k) layout."""
    r = kernel.ndim - 2
    return np.ascontiguousarray(np.transpose(kernel, (r + 1, r, *range(r))))
