"""Executes an IR graph with the NumPy kernels.

The plan is made once per graph: each step is a kernel with its inputs, outputs and attributes,
plus the values that die after it (freed at once, so peak memory stays near the largest
live set). Running is a straight loop over the steps.

A large batch of a model with large activations (CNNs on big images) runs in chunks of a few
samples, so that memory-bound ops work on data that fits in cache (MobileNetV2 at batch 32:
about twice as fast) and peak memory stays low. Only graphs whose ops never mix samples along
the batch axis are chunked, the same assumption as Keras' ``predict`` batching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.ir.graph import Graph
from kerasport.ops import get_op

# Chunks hold at most this many bytes in the largest value of the graph.
CHUNK_BYTES = 16 * 2**20


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
        self.chunk = chunk_size(graph)

    def run(self, inputs: list[np.ndarray], keep_all: bool = False) -> list[np.ndarray]:
        """Outputs for ``inputs`` (already validated). With ``keep_all``, intermediate values
        are kept and returned in ``self.last_values`` (for debugging)."""
        n = inputs[0].shape[0] if inputs and inputs[0].ndim else 0
        if self.chunk and not keep_all and n > self.chunk:
            parts = [self._run([a[i:i + self.chunk] for a in inputs], False)
                     for i in range(0, n, self.chunk)]
            return [np.concatenate(outs) for outs in zip(*parts)]
        return self._run(inputs, keep_all)

    def _run(self, inputs: list[np.ndarray], keep_all: bool) -> list[np.ndarray]:
        env: dict[str, Any] = dict(self.graph.constants)
        env[""] = None  # an absent optional input
        env.update(zip(self.graph.inputs, inputs))
        step = None
        try:
            for step in self.steps:
                args = [env[n] for n in step.inputs]
                out = step.fn(*args, **step.attrs) if step.attrs else step.fn(*args)
                outputs = step.outputs
                if len(outputs) == 1:
                    env[outputs[0]] = out
                else:
                    env.update(zip(outputs, out))
                if step.frees and not keep_all:
                    for name in step.frees:
                        del env[name]
        except Exception as exc:
            layer = step.layer if step is not None else "?"
            raise KerasportError(
                f"op failed in layer '{layer}': {type(exc).__name__}: {exc}") from exc
        if keep_all:
            self.last_values = env
        return [env[n] for n in self.graph.outputs]


def _touches_batch(node: Any, rank: int | None) -> bool:
    """True if the node's attributes name the batch axis (so samples would mix)."""
    attrs = node.attrs
    for key in ("axis", "axes"):
        if key in attrs and attrs[key] is not None:
            axes = attrs[key] if isinstance(attrs[key], (list, tuple)) else [attrs[key]]
            if any(a == 0 or (rank is not None and a == -rank) for a in axes):
                return True
    perm = attrs.get("perm")
    if perm is not None and perm[0] != 0:
        return True
    for key in ("pads", "crops"):
        pads = attrs.get(key)
        if pads and isinstance(pads[0], (list, tuple)) and any(pads[0]):
            return True
    return False


def chunk_size(graph: Graph) -> int | None:
    """Samples per chunk for ``graph`` (None: always run the whole batch): chosen so that its
    largest value holds about CHUNK_BYTES. None for graphs with free non-batch dims, ops whose
    attributes name the batch axis or that index rows of a batch value (their ``batch``
    trait), or inputs and outputs without a batch."""
    per_sample = 0
    for v in graph.values.values():
        if v.name in graph.constants:
            continue
        if v.shape is None:
            return None
        if not v.shape or v.shape[0] is not None:  # no batch axis
            if v.name in graph.inputs or v.name in graph.outputs:
                return None
            continue
        if any(d is None or isinstance(d, str) for d in v.shape[1:]):
            return None
        size = int(np.prod(v.shape[1:], dtype=np.int64)) * np.dtype(v.dtype).itemsize
        per_sample = max(per_sample, size)
    for node in graph.nodes:
        out = graph.values.get(node.outputs[0]) if node.outputs else None
        rank = len(out.shape) if out is not None and out.shape is not None else None
        batch = get_op(node.op).traits.batch
        if batch == "axis_attrs" and _touches_batch(node, rank):
            return None
        if batch == "table" and node.inputs[0] not in graph.constants:
            return None
    if per_sample == 0:
        return None
    chunk = max(1, CHUNK_BYTES // per_sample)
    return chunk if chunk < 2**20 else None
