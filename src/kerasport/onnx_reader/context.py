"""The state of one ONNX import: every ONNX tensor as a constant, a partly known shape vector,
or an IR value held in some axis order.

Layout: the IR is channels-last. An ONNX tensor ``t`` is held as the IR value
``t.transpose(perm)``; convolutions and pools want ``perm = (0, 2, ..., r-1, 1)``, most other
ops the identity. A tensor is moved into another order only when an op asks for it (once,
cached), ONNX Transposes only change ``perm``, and elementwise ops keep their inputs' order, so
a conv network pays one transpose at its input and at most one where it leaves the spatial
part (none when the spatial dims are 1 there, as after a global pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ir.builder import Builder

BATCH = "N"  # a shape vector element: the free dim 0 (the batch)
UNKNOWN = "?"  # a shape vector element: some other free dim


class Unsupported(KerasportError):
    """A node this reader cannot convert (collected with every other one into one error)."""


@dataclass
class Tensor:
    """One ONNX tensor: ``const`` (known now), ``sym`` (a 0/1-d int tensor whose elements are
    ints, BATCH or UNKNOWN), or an IR value ``name`` holding it transposed by ``perm``."""

    name: str = ""
    perm: tuple[int, ...] | None = None
    const: np.ndarray | None = None
    sym: tuple | None = None
    scalar: bool = False  # a 0-d sym


def identity(rank: int) -> tuple[int, ...]:
    """The identity permutation."""
    return tuple(range(rank))


def channels_last(rank: int) -> tuple[int, ...]:
    """(0, 2, ..., r-1, 1): NC... held as N...C."""
    return (0, *range(2, rank), 1) if rank >= 3 else identity(rank)


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    """The inverse permutation."""
    return tuple(int(i) for i in np.argsort(perm))


class ReadContext:
    """Tensors by ONNX name, the IR builder, and the node being converted."""

    def __init__(self, opset: int, path: str) -> None:
        self.opset = opset
        self.path = path
        self.b = Builder()
        self.tensors: dict[str, Tensor] = {}
        self._moved: dict[tuple[str, tuple[int, ...]], str] = {}
        self.layer = ""
        self.transposes = 0  # layout transposes inserted (measured in the docs)

    # ---- what a tensor is ----------------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        """The tensor called ``name`` (Unsupported if it was never produced)."""
        if name not in self.tensors:
            raise Unsupported(f"input '{name}' is produced by no node, initializer or input")
        return self.tensors[name]

    def is_const(self, name: str) -> bool:
        """True for an absent optional input or a constant."""
        return name == "" or self.tensor(name).const is not None

    def const(self, name: str, what: str = "this input") -> np.ndarray:
        """The constant value of ``name``, or Unsupported naming ``what``."""
        t = self.tensor(name)
        if t.const is None:
            raise Unsupported(f"{what} ('{name}') must be a constant, but it is computed "
                              "from the inputs at run time")
        return t.const

    def shape_vector(self, name: str, what: str) -> tuple:
        """A 1-d int tensor as a tuple of ints, BATCH or UNKNOWN."""
        t = self.tensor(name)
        if t.const is not None:
            return tuple(int(v) for v in np.asarray(t.const).reshape(-1))
        if t.sym is not None:
            return t.sym
        raise Unsupported(f"{what} ('{name}') depends on the input data, not only on shapes")

    def rank(self, name: str) -> int | None:
        """The tensor's rank (None if unknown)."""
        shape = self.shape(name)
        return None if shape is None else len(shape)

    def shape(self, name: str) -> tuple | None:
        """The ONNX shape (ints, None for free dims), or None if even the rank is unknown."""
        t = self.tensor(name)
        if t.const is not None:
            return tuple(t.const.shape)
        if t.sym is not None:
            return () if t.scalar else (len(t.sym),)
        ir = self.b.values[t.name].shape
        if ir is None:
            return None
        perm = t.perm or identity(len(ir))
        out: list[Any] = [None] * len(ir)
        for j, p in enumerate(perm):
            out[p] = ir[j]
        return tuple(out)

    def sym_shape(self, name: str) -> tuple | None:
        """The ONNX shape with free dims named: BATCH for the IR value's free axis 0, UNKNOWN
        for the others."""
        dims = self.shape(name)
        if dims is None:
            return None
        t = self.tensor(name)
        batch_axis = -1
        if t.const is None and t.sym is None:
            batch_axis = (t.perm or identity(len(dims)))[0] if dims else -1
        return tuple(d if d is not None else BATCH if i == batch_axis else UNKNOWN
                     for i, d in enumerate(dims))

    def dtype(self, name: str) -> str:
        """The numpy dtype name."""
        t = self.tensor(name)
        if t.const is not None:
            return str(t.const.dtype)
        if t.sym is not None:
            return "int64"
        return self.b.values[t.name].dtype

    def perm(self, name: str) -> tuple[int, ...]:
        """The order the IR holds ``name`` in (identity for constants)."""
        t = self.tensor(name)
        rank = self.rank(name) or 0
        return t.perm if t.perm is not None else identity(rank)

    # ---- IR values in a given order -------------------------------------------------------
    def ir(self, name: str, perm: tuple[int, ...] | None = None) -> str:
        """An IR value holding ``name`` transposed by ``perm`` (identity by default):
        constants are stored so, dynamic tensors transposed once (cached)."""
        if name == "":
            return ""
        t = self.tensor(name)
        rank = self.rank(name)
        if t.sym is not None and t.const is None:
            raise Unsupported(f"'{name}' is a shape with free dims used as data")
        want = tuple(perm) if perm is not None else identity(rank or 0)
        if t.const is not None:
            arr = t.const if rank == 0 or want == identity(rank) else t.const.transpose(want)
            key = (name, want)
            if key not in self._moved:
                self._moved[key] = self.b.const(name, arr)
            return self._moved[key]
        have = t.perm or identity(rank or 0)
        if rank is None or have == want:
            return t.name
        key = (name, want)
        if key not in self._moved:
            self._moved[key] = self._move(t.name, have, want)
        return self._moved[key]

    def _move(self, value: str, have: tuple[int, ...], want: tuple[int, ...]) -> str:
        inv = inverse(have)
        step = tuple(inv[w] for w in want)
        shape = self.b.values[value].shape
        kept = [a for a in step if shape[a] != 1]
        if step[0] == 0 and kept == sorted(kept) and None not in shape[1:]:
            new = [shape[a] for a in step]
            return self.b.op("Reshape", [value], f"{value}/reshape", {"shape": new[1:]},
                             self.layer)
        self.transposes += 1
        return self.b.op("Transpose", [value], f"{value}/transpose", {"perm": list(step)},
                         self.layer)

    def ir_const(self, hint: str, array: np.ndarray) -> str:
        """A new IR constant."""
        return self.b.const(hint, array)

    # ---- results --------------------------------------------------------------------------
    def op(self, op: str, inputs: list[str], out: str, attrs: dict[str, Any] | None = None,
           n_out: int = 1) -> Any:
        """Add an IR node (named after ONNX output ``out``); returns its output name(s)."""
        try:
            return self.b.op(op, inputs, out, attrs or {}, self.layer, n_out=n_out)
        except (ValueError, IndexError, TypeError) as exc:
            raise Unsupported(f"IR op {op} refuses these shapes ({exc})") from exc

    def set(self, name: str, value: str, perm: tuple[int, ...] | None = None) -> None:
        """ONNX tensor ``name`` is IR value ``value`` held transposed by ``perm``."""
        self.tensors[name] = Tensor(name=value, perm=None if perm is None else tuple(perm))

    def set_const(self, name: str, array: Any) -> None:
        """ONNX tensor ``name`` is known now."""
        self.tensors[name] = Tensor(const=np.asarray(array))

    def set_sym(self, name: str, elems: tuple, scalar: bool = False) -> None:
        """ONNX tensor ``name`` is a shape vector with free elements (all-int: a constant)."""
        if all(isinstance(e, int) for e in elems):
            arr = np.asarray(elems, np.int64)
            self.set_const(name, arr.reshape(()) if scalar else arr)
        else:
            self.tensors[name] = Tensor(sym=tuple(elems), scalar=scalar)
