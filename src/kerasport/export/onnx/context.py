"""The state of one ONNX export: nodes, initializers, and where each IR value lives in which
layout.

IR tensors are channels-last ("cl"). ONNX convolutions want channels-first ("cf"). Each IR value
can be held in either layout; asking for the other one inserts a Transpose once (cached), so a
chain of conv / pool / BN / activation / add runs channels-first without transposes in between,
and transposes appear only where a channels-last op (Dense, Flatten, Reshape...) needs them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ir.graph import Graph, Node

CL, CF = "cl", "cf"
TM = "tm"  # time-major: (N, T, ...) held as (T, N, ...), for the recurrent ops

EMITTERS: dict[str, Callable[[ExportContext, Node], None]] = {}
# IR ops without an ONNX form: op -> the reason
UNAVAILABLE: dict[str, str] = {}
UNAVAILABLE_IN: dict[str, str] = {}  # op -> the module that declared it unavailable
# ops whose emitters want time-major sequence inputs
TIME_MAJOR: set[str] = set()


def emitter(*ops: str, time_major: bool = False):
    """Register the ONNX emitter of IR ops (refuses duplicates). ``time_major``: the emitter
    wants its sequence and mask inputs held time-major (see sequence.py)."""

    def deco(fn):
        for op in ops:
            if op in EMITTERS or op in UNAVAILABLE:
                raise KerasportError(f"ONNX emitter for '{op}' registered twice")
            EMITTERS[op] = fn
            if time_major:
                TIME_MAJOR.add(op)
        return fn

    return deco


def unavailable(op: str, reason: str) -> None:
    """Record that IR op ``op`` has no ONNX form, and why (the conformance test asks every op
    for an emitter or this entry); call it in the emitter module of the op's family."""
    if op in EMITTERS or op in UNAVAILABLE:
        raise KerasportError(f"ONNX emitter for '{op}' registered twice")
    UNAVAILABLE[op] = reason
    caller = inspect.currentframe().f_back  # type: ignore[union-attr]
    UNAVAILABLE_IN[op] = caller.f_globals.get("__name__", "") if caller else ""


def to_cf(rank: int) -> list[int]:
    """Permutation channels-last -> channels-first: (0, r-1, 1, ..., r-2)."""
    return [0, rank - 1, *range(1, rank - 1)]


def to_cl(rank: int) -> list[int]:
    """Permutation channels-first -> channels-last."""
    return [0, *range(2, rank), 1]


class ExportContext:
    """Collects ONNX nodes and initializers while the IR graph is walked."""

    def __init__(self, graph: Graph, opset: int):
        from onnx import helper

        self.helper = helper
        self.graph = graph
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.where: dict[tuple[str, str], str] = {}  # (IR value, layout) -> ONNX name
        self._used: set[str] = set(graph.values)
        self.layer = ""

    # -- names and constants ------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """A new unique ONNX tensor name."""
        name, k = base, 1
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def const(self, array: Any, base: str = "const") -> str:
        """Add an initializer; returns its name."""
        arr = np.asarray(array)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        name = self.fresh(base)
        self.initializers[name] = arr
        return name

    def ints(self, values: list[int], base: str = "ints") -> str:
        """An int64 1-D initializer."""
        return self.const(np.asarray(values, dtype=np.int64), base)

    def add(self, op: str, inputs: list[str], base: str, n_out: int = 1,
            **attrs: Any) -> str | list[str]:
        """Append an ONNX node; returns its output name(s)."""
        outs = [self.fresh(f"{base}" if i == 0 else f"{base}_out{i}") for i in range(n_out)]
        self.nodes.append(self.helper.make_node(op, inputs, outs, name=self.fresh(f"{base}/op"),
                                                **attrs))
        return outs[0] if n_out == 1 else outs

    # -- values and layouts -------------------------------------------------------------
    def rank(self, value: str) -> int:
        """Rank of an IR value."""
        shape = self.graph.values[value].shape
        if shape is None:
            raise KerasportError(f"value '{value}' has unknown rank")
        return len(shape)

    def shape(self, value: str) -> tuple:
        """IR (channels-last) shape of a value."""
        return self.graph.values[value].shape

    def is_const(self, value: str) -> bool:
        """True for IR constants (weights)."""
        return value in self.graph.constants

    def layouts(self, value: str) -> list[str]:
        """Layouts a value is already available in."""
        return [lay for lay in (CF, CL) if (value, lay) in self.where]

    def set(self, value: str, name: str, layout: str = CL) -> None:
        """Record that IR ``value`` is ONNX tensor ``name`` in ``layout``."""
        self.where[(value, layout)] = name

    def get(self, value: str, layout: str = CL) -> str:
        """ONNX name of ``value`` in ``layout``, transposing (once) if needed."""
        if (value, layout) in self.where:
            return self.where[(value, layout)]
        if layout == TM or ((value, TM) in self.where and not self.layouts(value)):
            return self._swap_time(value, layout)
        if self.is_const(value):
            arr = self.graph.constants[value]
            if layout == CF and arr.ndim >= 3:
                arr = np.transpose(arr, to_cf(arr.ndim))
            name = self.const(arr, value if layout == CL else f"{value}__cf")
            self.where[(value, layout)] = name
            return name
        other = CF if layout == CL else CL
        if (value, other) not in self.where:
            raise KerasportError(f"value '{value}' was not produced before its use")
        rank = self.rank(value)
        if rank < 3:
            self.where[(value, layout)] = self.where[(value, other)]
            return self.where[(value, layout)]
        shape = self.shape(value)
        if all(d == 1 for d in shape[1:-1]) and shape[-1] is not None:
            # (N, 1, .., 1, C) and (N, C, 1, .., 1) hold the same bytes: a free Reshape
            target = [0, shape[-1], *[1] * (rank - 2)] if layout == CF else [0, *[1] * (
                rank - 2), shape[-1]]
            name = self.add("Reshape", [self.where[(value, other)], self.ints(target, "shape")],
                            f"{value}__{layout}")
        else:
            perm = to_cf(rank) if layout == CF else to_cl(rank)
            name = self.add("Transpose", [self.where[(value, other)]], f"{value}__{layout}",
                            perm=perm)
        self.where[(value, layout)] = name
        return name

    def _swap_time(self, value: str, layout: str) -> str:
        """``value`` into or out of the time-major layout: swap its first two axes."""
        perm = [1, 0, *range(2, self.rank(value))]
        if layout == TM and self.is_const(value):
            name = self.const(np.transpose(self.graph.constants[value], perm), f"{value}__tm")
        elif layout == TM and CL not in self.layouts(value) and CF in self.layouts(value):
            cl = to_cl(len(perm))  # channels-first straight to time-major: one Transpose
            name = self.add("Transpose", [self.where[(value, CF)]], f"{value}__tm",
                            perm=[cl[p] for p in perm])
        elif layout == TM:
            name = self.add("Transpose", [self.get(value, CL)], f"{value}__tm", perm=perm)
        else:
            name = self.add("Transpose", [self.where[(value, TM)]], f"{value}__cl", perm=perm)
        self.where[(value, TM if layout == TM else CL)] = name
        return name if layout in (TM, CL) else self.get(value, layout)

    def preferred(self, values: list[str]) -> str:
        """The layout for a layout-agnostic op: channels-first if any non-constant input
        already is, time-major if all are (and one is only that), else channels-last."""
        for v in values:
            if not self.is_const(v) and CF in self.layouts(v) and self.rank(v) >= 3:
                return CF
        live = [v for v in values if not self.is_const(v)]
        if live and all((v, TM) in self.where for v in live) and any(
                CL not in self.layouts(v) for v in live):
            return TM  # sequences between recurrent ops stay time-major
        return CL

    def operand(self, value: str, layout: str, rank: int) -> str:
        """``value`` for a broadcasting op whose result has ``rank`` and ``layout``: lower-rank
        constants are left-padded with 1s before being laid out."""
        if layout == CF and rank >= 3:
            if self.is_const(value):
                arr = self.graph.constants[value]
                if arr.ndim < rank:
                    arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
                key = (value, f"cf{rank}")
                if key not in self.where:
                    self.where[key] = self.const(np.transpose(arr, to_cf(rank)),
                                                 f"{value}__cf")
                return self.where[key]
            if self.rank(value) < rank:
                return self.get(value, CL)  # broadcasts only along the trailing axes
        if layout == TM and self.is_const(value):
            arr = self.graph.constants[value]
            if arr.ndim < rank - 1:
                return self.get(value, CL)  # broadcasts along trailing axes, which TM keeps
            key = (value, f"tm{rank}")
            if key not in self.where:
                arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
                self.where[key] = self.const(np.swapaxes(arr, 0, 1), f"{value}__tm")
            return self.where[key]
        return self.get(value, layout)

    def axis(self, axis: int, rank: int, layout: str) -> int:
        """A channels-last axis index in ``layout``."""
        axis %= rank
        if layout == TM:
            return {0: 1, 1: 0}.get(axis, axis)
        return to_cf(rank).index(axis) if layout == CF and rank >= 3 else axis

    def reduce(self, op: str, x: str, axes: list[int], keepdims: bool, base: str) -> str:
        """ReduceX over ``axes``, with axes as attribute or input depending on the opset."""
        as_input = self.opset >= 18 or op == "ReduceSum"
        if as_input:
            return self.add(op, [x, self.ints(axes, "axes")], base, keepdims=int(keepdims))
        return self.add(op, [x], base, axes=axes, keepdims=int(keepdims))
