"""The state of one TFLite write: a TFLite-level graph (tensors, buffers, operators) built
from the IR by the per-family emitters, serialised once by ``serialize.py``.

Every tensor is made by ``helpers.tensor`` (one place for dtype, shape signature, constant data
and quantization parameters), every operator by ``TFLiteContext.op``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ir.graph import Graph, Node

EMITTERS: dict[str, Callable[[TFLiteContext, Node], None]] = {}
# IR ops without a TFLite form: op -> the reason
UNAVAILABLE: dict[str, str] = {}
# the reason given for IR ops the ONNX reader added after the writer was written
NOT_YET = "comes from the ONNX reader, which landed after the TFLite writer; not emitted yet"
# IR ops whose emitters take a following Relu/Relu6 as a fused activation
FUSING: set[str] = set()


def emitter(*ops: str, fuses: bool = False):
    """Register the TFLite emitter of IR ops (refuses duplicates). ``fuses``: the emitter
    writes its output through ``helpers.fused_output``, so a following Relu/Relu6 can be
    fused into it."""

    def deco(fn):
        for name in ops:
            if name in EMITTERS or name in UNAVAILABLE:
                raise KerasportError(f"TFLite emitter for '{name}' registered twice")
            EMITTERS[name] = fn
            if fuses:
                FUSING.add(name)
        return fn

    return deco


def unavailable(name: str, reason: str) -> None:
    """Record that IR op ``name`` has no TFLite form, and why."""
    if name in EMITTERS or name in UNAVAILABLE:
        raise KerasportError(f"TFLite emitter for '{name}' registered twice")
    UNAVAILABLE[name] = reason


@dataclass
class Quant:
    """Quantization parameters of one tensor: per-tensor (one scale) or per-channel along
    ``dim``. ``min``/``max`` are optional recorded ranges."""

    scale: list[float]
    zero_point: list[int]
    dim: int = 0
    min: list[float] | None = None
    max: list[float] | None = None


@dataclass
class Tensor:
    """A TFLite tensor before serialisation. ``data`` is set for constants (weights)."""

    name: str
    shape: list[int]
    signature: list[int] | None
    dtype: str
    data: np.ndarray | None = None
    quant: Quant | None = None
    variable: bool = False


@dataclass
class Operator:
    """A TFLite operator: builtin code name (``"CONV_2D"``), tensor indices (-1: absent
    optional input), options object (schema ``...OptionsT``) and the IR layer it came from."""

    code: str
    inputs: list[int]
    outputs: list[int]
    options: Any = None
    layer: str = ""
    intermediates: list[int] = field(default_factory=list)


class TFLiteContext:
    """Collects tensors and operators while the IR graph is walked."""

    def __init__(self, graph: Graph, batch_size: int | None = None):
        self.graph = graph
        self.batch_size = batch_size
        self.tensors: list[Tensor] = []
        self.operators: list[Operator] = []
        self.index: dict[str, int] = {}  # IR value -> tensor index
        self._names: set[str] = set()
        self.layer = ""
        self.fused: dict[str, str] = {}  # producer output -> fused activation name
        self.fused_target: dict[str, str] = {}  # producer output -> the activation's output
        self.skip: set[int] = set()  # positions of IR nodes folded into their producer
        self.rename: dict[str, str] = {}  # value read under another name (folded Pad)
        self.same: set[str] = set()  # outputs of 'valid' convolutions written as 'same'
        # LSTMs as UNIDIRECTIONAL_SEQUENCE_LSTM (else unrolled over time)
        self.fused_lstm = True
        self.lstm_loop = False  # such LSTMs as a WHILE loop (writer/loop.py) where it applies
        # further subgraphs (WHILE cond/body): (context, inputs, outputs, name); index k + 1
        self.subgraphs: list[tuple[TFLiteContext, list[int], list[int], str]] = []
        self.notes: list[str] = []  # decisions the writer took (a fixed batch ...)
        self.shared: dict = {}  # constants shared by unrolled steps: key -> (array, tensor)
        self.used = {v for n in graph.nodes for v in n.inputs} | set(graph.outputs)

    def fresh(self, base: str) -> str:
        """A new unique tensor name."""
        name, k = base, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def add_tensor(self, tensor: Tensor) -> int:
        """Append a tensor; returns its index."""
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def op(self, code: str, inputs: list[int], outputs: list[int], options: Any = None) -> None:
        """Append an operator (builtin ``code``) reading and writing tensor indices."""
        self.operators.append(Operator(code, list(inputs), list(outputs), options, self.layer))

    def shape(self, value: str) -> tuple:
        """IR shape of a value."""
        shape = self.graph.values[value].shape
        if shape is None:
            raise KerasportError(f"value '{value}' (layer '{self.layer}') has unknown rank: "
                                 "TFLite needs every tensor's rank")
        return shape

    def dtype(self, value: str) -> str:
        """IR dtype of a value."""
        return self.graph.values[value].dtype

    def is_const(self, value: str) -> bool:
        """True for IR constants (weights)."""
        return value in self.graph.constants

    def const_value(self, value: str) -> np.ndarray:
        """The array of an IR constant."""
        return self.graph.constants[value]
