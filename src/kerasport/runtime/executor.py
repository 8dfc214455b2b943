"""Executes an IR graph with the NumPy kernels.

The plan is made once per graph: each step is a kernel with its inputs, outputs and attributes,
plus the values that die after it (freed at once, so peak memory stays near the largest
live set). Running is a straight loop over the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ir.graph import Graph
from kerasport.ir.ops import get_op


@dataclass(frozen=True)
class Step:
    """One planned node."""

    fn: Any
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    frees: tuple[str, ...]
    layer: str


class Executor:
    """Runs a graph; ``run`` takes the input arrays in graph order, returns the outputs."""

    def __init__(self, graph: Graph):
        self.graph = graph
        last: dict[str, int] = {}
        for i, node in enumerate(graph.nodes):
            for name in node.inputs:
                last[name] = i
        keep = set(graph.outputs) | set(graph.constants) | {""}
        steps = []
        for i, node in enumerate(graph.nodes):
            try:
                fn = get_op(node.op).kernel
            except KerasportError as exc:
                raise KerasportError(f"{exc} (from layer '{node.layer}')") from exc
            frees = tuple(n for n in dict.fromkeys(node.inputs) if last.get(n) == i
                          and n not in keep)
            steps.append(Step(fn, node.inputs, node.outputs, node.attrs, frees, node.layer))
        self.steps = tuple(steps)

    def run(self, inputs: list[np.ndarray], keep_all: bool = False) -> list[np.ndarray]:
        """Outputs for ``inputs`` (already validated). With ``keep_all``, intermediate values
        are kept and returned in ``self.last_values`` (for debugging)."""
        env: dict[str, Any] = dict(self.graph.constants)
        env[""] = None  # an absent optional input
        env.update(zip(self.graph.inputs, inputs))
        for step in self.steps:
            try:
                out = step.fn(*(env[n] for n in step.inputs), **step.attrs)
            except Exception as exc:
                raise KerasportError(
                    f"op failed in layer '{step.layer}': {type(exc).__name__}: {exc}") from exc
            if len(step.outputs) == 1:
                env[step.outputs[0]] = out
            else:
                env.update(zip(step.outputs, out))
            if not keep_all:
                for name in step.frees:
                    del env[name]
        if keep_all:
            self.last_values = env
        return [env[n] for n in self.graph.outputs]
