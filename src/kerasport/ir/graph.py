"""The IR: frozen dataclasses for values, nodes and graphs, and their JSON form.

Tensors stay channels-last as Keras made them. A dimension is an int, or None for a free
dimension (the batch, or a sequence length left open by the model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Dim = int | None
Shape = tuple[Dim, ...]


@dataclass(frozen=True)
class Value:
    """A named tensor: its shape (None for unknown dims; ``shape is None`` if the rank is
    unknown) and its dtype name."""

    name: str
    shape: Shape | None
    dtype: str = "float32"


@dataclass(frozen=True)
class Node:
    """One primitive op: ``outputs = op(*inputs, **attrs)``; ``layer`` is the Keras layer it
    came from (for error messages and debugging)."""

    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    layer: str = ""


@dataclass(frozen=True)
class Graph:
    """An ordered (topologically sorted) tuple of nodes, with named inputs, outputs, constant
    tensors (weights) and the value table.

    ``input_structure``/``output_structure`` say how ``predict`` presents several tensors:
    ``"single"``, ``"list"`` or ``"dict"`` (keyed by the tensor names in ``inputs``/``outputs``).
    """

    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    values: dict[str, Value]
    constants: dict[str, np.ndarray]
    input_structure: str = "single"
    output_structure: str = "single"
    name: str = "model"
    output_names: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Everything but the constants' data, as plain JSON types."""
        return {
            "name": self.name,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "output_names": list(self.output_names),
            "input_structure": self.input_structure,
            "output_structure": self.output_structure,
            "values": [
                {"name": v.name, "shape": None if v.shape is None else list(v.shape),
                 "dtype": v.dtype}
                for v in self.values.values()
            ],
            "nodes": [
                {"op": n.op, "inputs": list(n.inputs), "outputs": list(n.outputs),
                 "attrs": n.attrs, "layer": n.layer}
                for n in self.nodes
            ],
            "constants": sorted(self.constants),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], constants: dict[str, np.ndarray]) -> Graph:
        """Inverse of :meth:`to_json`, given the constants by name."""
        values = {
            v["name"]: Value(v["name"], None if v["shape"] is None else tuple(v["shape"]),
                             v["dtype"])
            for v in data["values"]
        }
        nodes = tuple(
            Node(n["op"], tuple(n["inputs"]), tuple(n["outputs"]), dict(n["attrs"]), n["layer"])
            for n in data["nodes"]
        )
        return cls(
            nodes=nodes,
            inputs=tuple(data["inputs"]),
            outputs=tuple(data["outputs"]),
            values=values,
            constants=constants,
            input_structure=data["input_structure"],
            output_structure=data["output_structure"],
            name=data.get("name", "model"),
            output_names=tuple(data.get("output_names") or data["outputs"]),
        )

    def num_params(self) -> int:
        """Total number of weight elements."""
        return int(sum(c.size for c in self.constants.values()))
