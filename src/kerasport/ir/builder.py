"""Builds an IR graph node by node, inferring shapes as it goes."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from kerasport.errors import ModelFileError
from kerasport.ir.graph import Graph, Node, Value
from kerasport.ops import get_op

# No value may hold more than this many elements per sample (8 GiB of float32): a config
# asking for more is corrupt or hostile, and is refused before anything is allocated.
MAX_SAMPLE_ELEMENTS = 1 << 31
# No model is this large (the largest keras.applications model has a few thousand ops).
MAX_NODES = 1_000_000


def sample_elements(shape: tuple | None) -> int:
    """Elements per sample of ``shape`` (its known dims after the batch; 0 if unknown)."""
    if not shape:
        return 0
    count = 1
    for d in shape[1:]:
        if isinstance(d, int):
            count *= d
    return count


def check_size(shape: tuple | None, where: str) -> None:
    """Raise ModelFileError if a value of ``shape`` would exceed MAX_SAMPLE_ELEMENTS."""
    if sample_elements(shape) > MAX_SAMPLE_ELEMENTS:
        raise ModelFileError(f"{where}: its output of shape {shape} would hold more than "
                             f"{MAX_SAMPLE_ELEMENTS} values per sample; the model config is "
                             "corrupt")


class Builder:
    """Accumulates nodes, values and constants with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.values: dict[str, Value] = {}
        self.constants: dict[str, np.ndarray] = {}

    def unique(self, name: str) -> str:
        """``name``, or ``name_<k>`` if taken."""
        if name not in self.values:
            return name
        k = 1
        while f"{name}_{k}" in self.values:
            k += 1
        return f"{name}_{k}"

    def input(self, name: str, shape: tuple | None, dtype: str) -> str:
        """Declare a graph input."""
        name = self.unique(name)
        self.values[name] = Value(name, shape, dtype)
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        """Add a constant tensor (float arrays are stored as float32)."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self.unique(name)
        # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        self.constants[name] = array if array.flags.c_contiguous else array.copy(order="C")
        self.values[name] = Value(name, tuple(array.shape), str(array.dtype))
        return name

    def poison(self, name: str) -> str:
        """A placeholder value of unknown shape (the output of a layer that failed)."""
        name = self.unique(name)
        self.values[name] = Value(name, None, "float32")
        return name

    def op(self, op: str, inputs: list[str], name: str, attrs: dict[str, Any],
           layer: str = "", n_out: int = 1) -> Any:
        """Add a node, inferring its output shapes; returns the output name (a list of names
        when ``n_out`` > 1). An input named "" is an absent optional input."""
        if len(self.nodes) >= MAX_NODES:
            raise ModelFileError(f"the model expands to more than {MAX_NODES} ops (at layer "
                                 f"'{layer or name}'): nested models called within nested "
                                 "models multiply; the config is corrupt or hostile")
        opdef = get_op(op)
        shapes = [None if i == "" else self.values[i].shape for i in inputs]
        out_shapes = opdef.shape(shapes, **attrs)
        for shape in out_shapes:
            check_size(shape, f"layer '{layer or name}' ({op})")
        # an op with a "dtype" attribute (Cast, masks) produces that dtype (its default if
        # not given)
        default = inspect.signature(opdef.kernel).parameters.get("dtype")
        dtype = attrs.get("dtype", default.default if default is not None
                          else self.values[inputs[0]].dtype)
        outs = [self.unique(name if i == 0 else f"{name}/out{i}") for i in range(n_out)]
        for out, shape in zip(outs, out_shapes):
            self.values[out] = Value(out, shape, dtype)
        self.nodes.append(Node(op, tuple(inputs), tuple(outs), dict(attrs), layer))
        return outs[0] if n_out == 1 else outs

    def finish(self, inputs: list[str], outputs: list[str], input_structure: str,
               output_structure: str, name: str, output_names: list[str]) -> Graph:
        """The graph, keeping only nodes, values and constants the outputs need."""
        needed = set(outputs)
        kept = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.outputs):
                kept.append(node)
                needed.update(node.inputs)
        kept.reverse()
        used = (set(inputs) | needed | {o for n in kept for o in n.outputs}) - {""}
        return Graph(
            nodes=tuple(kept),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            values={k: v for k, v in self.values.items() if k in used},
            constants={k: v for k, v in self.constants.items() if k in used},
            input_structure=input_structure,
            output_structure=output_structure,
            name=name,
            output_names=tuple(output_names),
        )
