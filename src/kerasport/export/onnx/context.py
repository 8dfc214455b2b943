"""The state of one ONNX export: nodes, initializers, the plan made by passes.py, and which
ONNX tensor holds each IR value in which layout (``ExportContext.held``, a layouts.Layouts).

IR tensors are channels-last ("cl"). ONNX convolutions want channels-first ("cf"). Each IR value
can be held in either layout; asking for the other one inserts a Transpose once (recorded), so a
chain of conv / pool / BN / activation / add runs channels-first without transposes in between,
and transposes appear only where a channels-last op (Dense, Flatten, Reshape...) needs them.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.layouts import CF, CL, TM, Layouts
from kerasport.ir.graph import Graph, Node
from kerasport.ops.registry import FAMILIES

__all__ = ["CF", "CL", "TM", "ExportContext", "emitter", "to_cf", "to_cl", "unavailable"]

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


def load_emitters() -> dict[str, Callable[[ExportContext, Node], None]]:
    """Import the emitter modules, one per op family named like kerasport/ops (they register
    themselves); the registry of op -> emitter."""
    for family in FAMILIES:
        importlib.import_module(f"kerasport.export.onnx.{family}")
    return EMITTERS


def unavailable(op: str, reason: str) -> None:
    """Record that IR op ``op`` has no ONNX form, and why (the conformance test asks every op
    for an emitter or this entry); call it in the emitter module of the op's family."""
    if op in EMITTERS or op in UNAVAILABLE:
        raise KerasportError(f"ONNX emitter for '{op}' registered twice")
    UNAVAILABLE[op] = reason
    caller = inspect.currentframe().f_back  # type: ignore[union-attr]
    UNAVAILABLE_IN[op] = caller.f_globals.get("__name__", "") if caller else ""


@dataclass(frozen=True)
class ExportPlan:
    """What passes.plan_export decided before the emitters run (empty: nothing planned).

    - ``partners``: forward half's first output -> the backward half emitted with it as one
      bidirectional ONNX op; ``backward_halves``: those backward halves' first outputs.
    - ``time_major``: IR values produced time-major (they reach a recurrent op).
    - ``compacted``: mask -> the native recurrent ops (first outputs) that read it compacted.
    """

    partners: dict[str, Node] = field(default_factory=dict)
    backward_halves: frozenset[str] = frozenset()
    time_major: frozenset[str] = frozenset()
    compacted: dict[str, tuple[str, ...]] = field(default_factory=dict)


def to_cf(rank: int) -> list[int]:
    """Permutation channels-last -> channels-first: (0, r-1, 1, ..., r-2)."""
    return [0, rank - 1, *range(1, rank - 1)]


def to_cl(rank: int) -> list[int]:
    """Permutation channels-first -> channels-last."""
    return [0, *range(2, rank), 1]


class ExportContext:
    """Collects ONNX nodes and initializers while the IR graph is walked."""

    def __init__(self, graph: Graph, opset: int, plan: ExportPlan | None = None):
        from onnx import helper

        self.helper = helper
        self.graph = graph
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.held = Layouts()  # which ONNX tensor holds which IR value in which layout
        self.plan = plan or ExportPlan()
        self.compactions: dict[str, Any] = {}  # mask -> its mask_compaction.Compacted
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
        """Batch-major layouts (CF, CL) a value is already available in."""
        return self.held.spatial(value)

    def set(self, value: str, name: str, layout: str = CL) -> None:
        """Record that IR ``value`` is ONNX tensor ``name`` in ``layout``."""
        self.held.hold(value, name, layout)

    def get(self, value: str, layout: str = CL) -> str:
        """ONNX name of ``value`` in ``layout``, transposing (once) if needed."""
        held = self.held.name(value, layout)
        if held is not None:
            return held
        if layout == TM or (self.held.holds(value, TM) and not self.layouts(value)):
            return self._swap_time(value, layout)
        if self.is_const(value):
            arr = self.graph.constants[value]
            if layout == CF and arr.ndim >= 3:
                arr = np.transpose(arr, to_cf(arr.ndim))
            name = self.const(arr, value if layout == CL else f"{value}__cf")
            self.held.hold(value, name, layout)
            return name
        other = self.held.name(value, CF if layout == CL else CL)
        if other is None:
            raise KerasportError(f"value '{value}' was not produced before its use")
        rank = self.rank(value)
        if rank < 3:
            self.held.hold(value, other, layout)
            return other
        shape = self.shape(value)
        if all(d == 1 for d in shape[1:-1]) and shape[-1] is not None:
            # (N, 1, .., 1, C) and (N, C, 1, .., 1) hold the same bytes: a free Reshape
            target = [0, shape[-1], *[1] * (rank - 2)] if layout == CF else [0, *[1] * (
                rank - 2), shape[-1]]
            name = self.add("Reshape", [other, self.ints(target, "shape")], f"{value}__{layout}")
        else:
            perm = to_cf(rank) if layout == CF else to_cl(rank)
            name = self.add("Transpose", [other], f"{value}__{layout}", perm=perm)
        self.held.hold(value, name, layout)
        return name

    def _swap_time(self, value: str, layout: str) -> str:
        """``value`` into or out of the time-major layout: swap its first two axes."""
        perm = [1, 0, *range(2, self.rank(value))]
        if layout == TM and self.is_const(value):
            name = self.const(np.transpose(self.graph.constants[value], perm), f"{value}__tm")
        elif layout == TM and CL not in self.layouts(value) and CF in self.layouts(value):
            cl = to_cl(len(perm))  # channels-first straight to time-major: one Transpose
            name = self.add("Transpose", [self.held.name(value, CF)], f"{value}__tm",
                            perm=[cl[p] for p in perm])
        elif layout == TM:
            name = self.add("Transpose", [self.get(value, CL)], f"{value}__tm", perm=perm)
        else:
            name = self.add("Transpose", [self.held.name(value, TM)], f"{value}__cl", perm=perm)
        self.held.hold(value, name, TM if layout == TM else CL)
        return name if layout in (TM, CL) else self.get(value, layout)

    def preferred(self, values: list[str]) -> str:
        """The layout for a layout-agnostic op: channels-first if any non-constant input
        already is, time-major if all are (and one is only that), else channels-last."""
        for v in values:
            if not self.is_const(v) and CF in self.layouts(v) and self.rank(v) >= 3:
                return CF
        live = [v for v in values if not self.is_const(v)]
        if live and all(self.held.holds(v, TM) for v in live) and any(
                CL not in self.layouts(v) for v in live):
            return TM  # sequences between recurrent ops stay time-major
        return CL

    def operand(self, value: str, layout: str, rank: int) -> str:
        """``value`` for a broadcasting op whose result has ``rank`` and ``layout``: lower-rank
        constants are left-padded with 1s before being laid out."""
        if layout == CF and rank >= 3:
            if self.is_const(value):
                return self._broadcast_const(value, layout, rank)
            if self.rank(value) < rank:
                return self.get(value, CL)  # broadcasts only along the trailing axes
        if layout == TM and self.is_const(value):
            if self.graph.constants[value].ndim < rank - 1:
                return self.get(value, CL)  # broadcasts along trailing axes, which TM keeps
            return self._broadcast_const(value, layout, rank)
        return self.get(value, layout)

    def _broadcast_const(self, value: str, layout: str, rank: int) -> str:
        """Constant ``value`` left-padded to ``rank`` and laid out in CF or TM (made once)."""
        key = (value, layout, rank)
        if key not in self.held.broadcast:
            arr = self.graph.constants[value]
            arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
            if layout == CF:
                arr, suffix = np.transpose(arr, to_cf(rank)), "cf"
            else:
                arr, suffix = np.swapaxes(arr, 0, 1), "tm"
            self.held.broadcast[key] = self.const(arr, f"{value}__{suffix}")
        return self.held.broadcast[key]

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
