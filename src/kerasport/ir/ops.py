"""The op catalogue: every IR op has a NumPy kernel and a shape rule, registered by name.

Kernels live in ``kerasport.runtime.kernels`` (one module per op family), shape rules in
``kerasport.ir.shapes``. A kernel is a plain function ``op(*inputs, **attrs)``: its keyword
arguments are the op's attributes, with their defaults. Registering the same name twice is a
bug and raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kerasport.errors import KerasportError

KERNELS: dict[str, Callable[..., Any]] = {}
SHAPE_RULES: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class OpDef:
    """An op: its kernel and its shape rule."""

    name: str
    kernel: Callable[..., Any]
    shape: Callable[..., Any]


def _register(table: dict[str, Callable[..., Any]], what: str, name: str):
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in table:
            raise KerasportError(f"{what} for op '{name}' registered twice")
        table[name] = fn
        return fn

    return deco


def kernel(name: str):
    """Register the NumPy kernel of op ``name``."""
    return _register(KERNELS, "kernel", name)


def shape_rule(name: str):
    """Register the shape rule of op ``name``: ``(input_shapes, **attrs) -> output_shapes``."""
    return _register(SHAPE_RULES, "shape rule", name)


def _load_all() -> None:
    import kerasport.ir.shapes  # noqa: F401
    import kerasport.ir.shapes_attention  # noqa: F401
    import kerasport.ir.shapes_preprocessing  # noqa: F401
    import kerasport.runtime.kernels  # noqa: F401


def get_op(name: str) -> OpDef:
    """The op called ``name``; raises a clear error for an unknown op."""
    _load_all()
    if name not in KERNELS or name not in SHAPE_RULES:
        raise KerasportError(f"unknown IR op '{name}'")
    return OpDef(name, KERNELS[name], SHAPE_RULES[name])


def all_ops() -> list[str]:
    """Names of every op with both a kernel and a shape rule."""
    _load_all()
    return sorted(set(KERNELS) & set(SHAPE_RULES))
