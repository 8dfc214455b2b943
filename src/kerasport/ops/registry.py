"""The op registry: each IR op registered once, with its kernel, shape rule and traits.

An op is defined in the module of its family (``kerasport.ops.conv``, ``kerasport.ops.shape``
...) by one decorator on its NumPy kernel::

    @op("Conv", shape=conv_shape, traits=Traits(affine_foldable=True, quantize_inputs=(1,)))
    def Conv(x, kernel, bias=None, strides=(1,), ...): ...

The kernel is a plain function ``op(*inputs, **attrs)``: its keyword arguments are the op's
attributes, with their defaults. The shape rule is ``rule(input_shapes, **attrs) ->
output_shapes`` and states its rule in its docstring. Traits are what passes, the executor, the
quantizer and the targets ask about an op instead of keeping lists of op names. Registering the
same name twice is a bug and raises.

This module imports nothing from kerasport but its errors: the IR readers, the runtime and the
targets all depend on it, never the other way round.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from kerasport.errors import KerasportError

# The op families, one module each in kerasport.ops (targets mirror these names).
FAMILIES = ("activations", "attention", "conv", "elementwise", "linalg", "mask", "norm", "pool",
            "preprocessing", "recurrent", "resize", "shape")

BatchRule = Literal["rows", "axis_attrs", "table"]


@dataclass(frozen=True)
class Traits:
    """What an op is, for the code that transforms, runs or exports graphs.

    - ``unary``: one data input and an output of its shape (activations, casts,
      normalisations); its shape rule is ``common.same_shape``.
    - ``affine_foldable``: a per-channel Affine that follows the op can fold into its kernel
      (input 1, output channels last) and bias (input 2).
    - ``quantize_inputs``: positions of inputs that are weights stored quantized (int8 /
      float16 weight modes); other constants stay float32.
    - ``batch``: how the op treats the batch axis. ``"rows"``: each sample alone.
      ``"axis_attrs"``: mixes samples when an attribute (axis, axes, perm, pads, crops) names
      axis 0. ``"table"``: reads rows of its first input by index, which mixes samples unless
      that input is a constant.
    - ``recurrent``: loops over axis 1 (time) carrying a state; ``mask_input`` is the position of
      its optional (N, T) mask input.
    - ``keeps_time_axis``: leaves axes 0 and 1 (batch, time) where they are, so it can run in a
      time-major layout when its consumer wants one.
    """

    unary: bool = False
    affine_foldable: bool = False
    quantize_inputs: tuple[int, ...] = ()
    batch: BatchRule = "rows"
    recurrent: bool = False
    mask_input: int | None = None
    keeps_time_axis: bool = False


UNARY = Traits(unary=True)


@dataclass(frozen=True)
class OpDef:
    """An op: its name, kernel, shape rule and traits."""

    name: str
    kernel: Callable[..., Any]
    shape: Callable[..., Any]
    traits: Traits


_OPS: dict[str, OpDef] = {}


def op(name: str, *, shape: Callable[..., Any], traits: Traits = Traits()):
    """Register the decorated function as the NumPy kernel of op ``name``, with its shape rule
    ``shape`` and its ``traits``. Refuses a name registered before."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _OPS:
            raise KerasportError(f"op '{name}' registered twice")
        if not callable(shape) or not isinstance(traits, Traits):
            raise KerasportError(f"op '{name}': a shape rule and Traits are required")
        _OPS[name] = OpDef(name, fn, shape, traits)
        return fn

    return deco


def _load_all() -> None:
    for family in FAMILIES:
        importlib.import_module(f"kerasport.ops.{family}")


def get_op(name: str) -> OpDef:
    """The op called ``name``; raises a clear error for an unknown op."""
    _load_all()
    if name not in _OPS:
        raise KerasportError(f"unknown IR op '{name}'")
    return _OPS[name]


def all_ops() -> list[str]:
    """Names of every registered op."""
    _load_all()
    return sorted(_OPS)
