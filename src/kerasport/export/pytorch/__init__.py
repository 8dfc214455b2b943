"""PyTorch target: a readable ``nn.Module`` .py file generated from the IR, and its
``state_dict`` as a safetensors file.

One emitter module per op family (named as ``kerasport.ops``) writes each IR node as a torch
layer built in ``__init__`` (named after its Keras layer) and one line of ``forward``. Ops with
no PyTorch form are refused by op and layer before anything is written. Generating the code
needs NumPy only; torch runs it (``kerasport.export.pytorch.check``) in a worker process.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, LayerIssue, UnsupportedLayerError
from kerasport.ir.graph import Graph
from kerasport.ops import FAMILIES

WEIGHTS_SUFFIX = ".safetensors"


def _emitters() -> dict:
    from kerasport.export.pytorch.helpers import EMITTERS

    for family in FAMILIES:
        importlib.import_module(f"kerasport.export.pytorch.{family}")
    return EMITTERS


def emitted_ops() -> list[str]:
    """IR ops with a PyTorch emitter."""
    return sorted(_emitters())


def unavailable_ops() -> dict[str, str]:
    """IR ops without a PyTorch form: op -> the reason."""
    from kerasport.export.pytorch.helpers import UNAVAILABLE

    _emitters()
    return dict(UNAVAILABLE)


@dataclass
class Generated:
    """A generated module: its source text, class name and state dict (torch layouts)."""

    source: str
    class_name: str
    state: dict[str, np.ndarray]


_HINT = "docs/pytorch-target.md lists the ops kerasport writes for PyTorch"


def _refuse(issues: list[LayerIssue]) -> None:
    raise UnsupportedLayerError(issues)


def _issue(node: Any, reason: str) -> LayerIssue:
    return LayerIssue(node.layer or "?", f"op {node.op}", f"no PyTorch form: {reason}",
                      hint=_HINT)


def check_supported(graph: Graph) -> None:
    """Refuse, naming op and layer, every node whose op has no PyTorch form."""
    emitters = _emitters()
    reasons = unavailable_ops()
    seen: set[tuple[str, str]] = set()
    problems = []
    for n in graph.nodes:
        if n.op not in emitters and (n.layer, n.op) not in seen:
            seen.add((n.layer, n.op))
            problems.append(_issue(n, reasons.get(n.op, "no PyTorch emitter yet")))
    if problems:
        _refuse(problems)


def generate(graph: Graph, source: str = "a Keras model",
             weights_file: str = "model" + WEIGHTS_SUFFIX) -> Generated:
    """The module's source and state dict for ``graph``; raises (before anything is written)
    for ops or configurations with no PyTorch form, listing each with its layer."""
    from kerasport.export.pytorch.context import ModuleContext
    from kerasport.export.pytorch.writer import class_name, module_source

    check_supported(graph)
    emitters = _emitters()
    ctx = ModuleContext(graph)
    problems = []
    for node in graph.nodes:
        try:
            emitters[node.op](ctx, node)
        except KerasportError as exc:
            problems.append(_issue(node, str(exc)))
            for out in node.outputs:  # keep walking to report every problem at once
                if out:
                    ctx.exprs.setdefault(out, {"cl": "None"})
    if problems:
        _refuse(problems)
    cls = class_name(graph.name)
    return Generated(module_source(ctx, source, cls, weights_file), cls, ctx.state)


def export_pytorch(model: Any, directory: str, name: str = "model",
                   reference: Any = None) -> tuple[str, str]:
    """Write ``<name>.py``, ``<name>.safetensors`` and ``reference.npz`` (the reference input
    and the NumPy runtime's outputs, when ``reference`` is given) into ``directory``; returns
    the paths of the .py and the weights. ``model`` is a ``kerasport.Model`` (or a Graph)."""
    from kerasport.export.pytorch.writer import write_safetensors

    graph = model if isinstance(model, Graph) else model.graph
    source = getattr(model, "meta", {}).get("source", graph.name)
    weights_file = name + WEIGHTS_SUFFIX
    gen = generate(graph, source, weights_file)
    os.makedirs(directory, exist_ok=True)
    py_path = os.path.join(directory, name + ".py")
    w_path = os.path.join(directory, weights_file)
    with open(py_path, "w", encoding="utf-8") as f:
        f.write(gen.source)
    write_safetensors(w_path, gen.state)
    if reference is not None:
        arrays = {f"input_{i}": a for i, a in enumerate(reference.inputs)}
        arrays.update({f"output_{i}": a for i, a in enumerate(reference.outputs)})
        np.savez(os.path.join(directory, "reference.npz"), **arrays)
    return py_path, w_path
