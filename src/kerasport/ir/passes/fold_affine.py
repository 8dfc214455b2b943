"""Fold a per-channel Affine (inference BatchNormalization, Rescaling after a layer) into the
op that produces its input when that op has the ``affine_foldable`` trait (Conv,
DepthwiseConv, Dense: kernel input 1, bias input 2).

Invariant: outputs are unchanged up to float rounding. Applies only when the producer's kernel
is a constant used by no other node, its output feeds nothing but the Affine, and scale/shift
are constants that vary along the last (channel) axis only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from kerasport.ir.graph import Graph, Node
from kerasport.ops import get_op


def _per_channel(arr: np.ndarray, channels: int) -> np.ndarray | None:
    """``arr`` as a (channels,) vector if it only varies along the last axis, else None."""
    if arr.ndim and any(d != 1 for d in arr.shape[:-1]):
        return None
    if arr.ndim and arr.shape[-1] not in (1, channels):
        return None
    return np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, (channels,)).astype(np.float64)


def fold_affine(graph: Graph) -> Graph:
    """The graph with foldable Affine nodes merged into their producers."""
    uses = Counter(name for node in graph.nodes for name in node.inputs)
    uses.update(graph.outputs)
    producer = {out: i for i, node in enumerate(graph.nodes) for out in node.outputs}
    consts = dict(graph.constants)
    nodes: list[Node | None] = list(graph.nodes)
    values = dict(graph.values)
    for i, node in enumerate(graph.nodes):
        if node.op != "Affine" or len(node.inputs) != 3:
            continue
        x, scale_name, shift_name = node.inputs
        j = producer.get(x)
        if j is None or nodes[j] is None or uses[x] != 1 \
                or not get_op(nodes[j].op).traits.affine_foldable:
            continue
        prod = nodes[j]
        kernel_name = prod.inputs[1]
        if not all(n in consts for n in (kernel_name, scale_name, shift_name)):
            continue
        if uses[kernel_name] != 1 or (len(prod.inputs) > 2 and uses[prod.inputs[2]] != 1):
            continue
        kernel = consts[kernel_name]
        channels = kernel.shape[-2] * kernel.shape[-1] if prod.op == "DepthwiseConv" \
            else kernel.shape[-1]
        scale = _per_channel(consts[scale_name], channels)
        shift = _per_channel(consts[shift_name], channels)
        if scale is None or shift is None:
            continue
        bias = consts[prod.inputs[2]].astype(np.float64) if len(prod.inputs) > 2 else 0.0
        new_kernel = kernel * scale.reshape(kernel.shape[-2:] if prod.op == "DepthwiseConv"
                                            else (-1,))
        consts[kernel_name] = new_kernel.astype(np.float32)
        bias_name = prod.inputs[2] if len(prod.inputs) > 2 else f"{kernel_name}/folded_bias"
        consts[bias_name] = (bias * scale + shift).astype(np.float32)
        values[bias_name] = replace(values.get(bias_name, values[kernel_name]), name=bias_name,
                                    shape=(channels,), dtype="float32")
        out = node.outputs[0]
        nodes[j] = replace(prod, inputs=(prod.inputs[0], kernel_name, bias_name),
                           outputs=(out,), layer=f"{prod.layer}+{node.layer}")
        nodes[i] = None
        values.pop(x, None)
        uses[scale_name] -= 1
        uses[shift_name] -= 1
    kept = tuple(n for n in nodes if n is not None)
    used = {name for n in kept for name in n.inputs} | set(graph.outputs)
    return replace(graph, nodes=kept,
                   constants={k: v for k, v in consts.items() if k in used},
                   values={k: v for k, v in values.items() if k in used or k in graph.inputs
                           or any(k in n.outputs for n in kept)})
