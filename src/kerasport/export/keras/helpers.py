"""Mapping IR ops to Keras 3 layers (graphs that did not come from a Keras file: kerasport
bundles, other readers): the emitter registry, what an emitter returns, and the checks
emitters share. One module per op family (named like kerasport/ops) registers its emitters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasport.ir.graph import Graph, Node


class Refused(Exception):
    """An emitter cannot express this node in Keras 3 (collected into one error)."""

    def __init__(self, reason: str, key: str | None = None):
        super().__init__(reason)
        self.reason, self.key = reason, key


@dataclass
class Emitted:
    """One Keras 3 layer (or keras.ops operation) for one IR node.

    ``inputs``: the IR values it is called on; ``merge``: the layer takes them as one list
    (Add, Concatenate); ``extra``: numbers passed after the tensors (operations);
    ``weights``: its variables in Keras' order."""

    class_name: str
    config: dict[str, Any]
    inputs: list[str]
    weights: list[np.ndarray] = field(default_factory=list)
    module: str = "keras.layers"
    merge: bool = False
    extra: list[Any] = field(default_factory=list)


class EmitContext:
    """What an emitter sees: the graph (values, constants) around the node."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def const(self, name: str) -> np.ndarray | None:
        """The constant called ``name`` ("" or a computed value: None)."""
        return self.graph.constants.get(name) if name else None

    def rank(self, name: str) -> int:
        """The rank of value ``name`` (refused when unknown)."""
        shape = self.graph.values[name].shape
        if shape is None:
            raise Refused(f"the rank of '{name}' is unknown")
        return len(shape)

    def weight(self, node: Node, index: int, what: str) -> np.ndarray:
        """Input ``index`` of ``node``, which must be a stored weight."""
        value = self.const(node.inputs[index]) if index < len(node.inputs) else None
        if value is None:
            raise Refused(f"its {what} is computed, not a stored weight: no Keras layer "
                          "holds it")
        return np.asarray(value, np.float32)


Emitter = Callable[[EmitContext, Node], Emitted]
EMITTERS: dict[str, Emitter] = {}


def emitter(*ops: str) -> Callable[[Emitter], Emitter]:
    """Register ``fn`` as the Keras emitter of IR ops ``ops`` (each once)."""

    def register(fn: Emitter) -> Emitter:
        for name in ops:
            if name in EMITTERS:
                raise ValueError(f"a Keras emitter for IR op {name} is already registered")
            EMITTERS[name] = fn
        return fn

    return register


def require(ok: bool, reason: str, key: str | None = None) -> None:
    """Refuse the node unless ``ok``."""
    if not ok:
        raise Refused(reason, key)


def spatial_rank(ctx: EmitContext, node: Node, ranks: tuple[int, ...] = (1, 2, 3)) -> int:
    """The number of spatial axes of the node's first input (channels-last), checked."""
    r = ctx.rank(node.inputs[0]) - 2
    require(r in ranks, f"{r}-D spatial input has no Keras layer here")
    return r


def padding(value: Any, causal: bool = False) -> str:
    """IR padding -> Keras' (only the named forms exist in Keras)."""
    allowed = ("valid", "same", "causal") if causal else ("valid", "same")
    require(value in allowed, f"padding {value!r} has no Keras form", "padding")
    return str(value)
