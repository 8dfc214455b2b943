"""The converter registry: one named function per ONNX op type, registered once."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from kerasport.errors import KerasportError

# converter modules, one per ONNX op family (named like kerasport/ops)
FAMILIES = ("activations", "conv", "elementwise", "indexing", "linalg", "norm", "pool",
            "recurrent", "resize", "shape")

Converter = Callable[[Any, Any, dict[str, Any]], None]
_CONVERTERS: dict[str, Converter] = {}


def converter(*op_types: str) -> Callable[[Converter], Converter]:
    """Register the decorated function as the converter of ONNX ``op_types`` (default
    domain); refuses an op type registered before. It is called as ``fn(ctx, node, attrs)``
    and sets every output of ``node`` on ``ctx``."""

    def deco(fn: Converter) -> Converter:
        for op_type in op_types:
            if op_type in _CONVERTERS:
                raise KerasportError(f"ONNX converter for '{op_type}' registered twice")
            _CONVERTERS[op_type] = fn
        return fn

    return deco


def _load_all() -> None:
    for family in FAMILIES:
        importlib.import_module(f"kerasport.onnx_reader.converters.{family}")


def get_converter(op_type: str) -> Converter | None:
    """The converter of ``op_type``, or None."""
    _load_all()
    return _CONVERTERS.get(op_type)


def supported_op_types() -> list[str]:
    """Every ONNX op type the reader claims."""
    _load_all()
    return sorted(_CONVERTERS)
