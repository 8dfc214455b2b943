"""ONNX-only passes over the IR graph, run by to_onnx before the emitters: what the ONNX form
of the recurrent layers needs decided up front, instead of inside the emitters.

- ``pair_bidirectional`` (a rewrite): the backward half of a Bidirectional layer that can share
  one ONNX op with its forward half is moved right after it. Invariant: the same nodes, still
  in topological order, outputs unchanged (the NumPy runtime gives the same arrays).
- ``bidirectional_pairs``: forward half -> backward half for every such adjacent pair (one
  ``direction="bidirectional"`` ONNX op).
- ``time_major_values``: the IR values to produce time-major, (T, N, ...): ONNX Runtime runs its
  recurrent ops time-major only, so a sequence or mask that reaches one (directly or through
  ops that keep the batch and time axes) is made time-major where it is made.
- ``compacted_masks``: the masks whose unmasked steps are moved to the front of each sequence
  for the native recurrent ops that read them (mask_compaction.py), made once per mask.

They are ONNX-only (the NumPy runtime and the other targets need none of them), so they live
here, not in kerasport/ir/passes. ``plan_export`` runs them and returns the graph to emit with
the decisions as an ExportPlan.
"""

from __future__ import annotations

from dataclasses import replace

from kerasport.export.onnx.context import ExportPlan, load_emitters
from kerasport.export.onnx.recurrent_native import mask_value, native, state_input
from kerasport.export.onnx.timemajor import mask_index, time_major_recurrent
from kerasport.ir.graph import Graph, Node
from kerasport.ops import get_op

_FUSABLE = ("SimpleRNN", "LSTM", "GRU")


def _differs(a: Node, b: Node) -> set[str]:
    keys = set(a.attrs) | set(b.attrs)
    return {k for k in keys if a.attrs.get(k) != b.attrs.get(k)}


def _units(graph: Graph, node: Node) -> int | None:
    rec = graph.constants.get(node.inputs[2])
    return None if rec is None else rec.shape[0]


def _halves(graph: Graph, fw: Node, bw: Node) -> bool:
    """True if ``fw`` and ``bw`` are the forward and backward halves of one Bidirectional
    layer that fit one ONNX op: same op, layer, input, mask, units and options but
    go_backwards; constant recurrent kernels; initial states for both or for none."""
    if (fw.op not in _FUSABLE or bw.op != fw.op or bw.layer != fw.layer
            or fw.attrs.get("go_backwards") or not bw.attrs.get("go_backwards")
            or bw.inputs[0] != fw.inputs[0] or mask_value(bw) != mask_value(fw)
            or _differs(fw, bw) != {"go_backwards"} or not native(fw)):
        return False
    units = _units(graph, bw)
    if units is None or units != _units(graph, fw):
        return False
    n_states = 2 if fw.op == "LSTM" else 1
    return all(bool(state_input(fw, k)) == bool(state_input(bw, k)) for k in range(n_states))


def pair_bidirectional(graph: Graph) -> Graph:
    """The graph with each fusable backward half moved right after its forward half, when
    every input of the backward half is made before the forward half."""
    nodes = list(graph.nodes)
    for i, fw in enumerate(nodes):  # a half moved to i + 1 is never looked at again
        if fw.op not in _FUSABLE or fw.attrs.get("go_backwards"):
            continue
        made_at = {out: k for k, n in enumerate(nodes) for out in n.outputs}
        for j in range(i + 1, len(nodes)):
            bw = nodes[j]
            if _halves(graph, fw, bw) and all(made_at.get(v, -1) < i for v in bw.inputs if v):
                nodes.insert(i + 1, nodes.pop(j))  # nothing between reads it: it came later
                break
    return graph if nodes == list(graph.nodes) else replace(graph, nodes=tuple(nodes))


def bidirectional_pairs(graph: Graph) -> dict[str, Node]:
    """Forward half's first output -> backward half, for the halves that are adjacent (as
    ``pair_bidirectional`` leaves them) and fit one ONNX op."""
    pairs: dict[str, Node] = {}
    nodes = graph.nodes
    for fw, bw in zip(nodes, nodes[1:]):
        if _halves(graph, fw, bw):
            pairs[fw.outputs[0]] = bw
    return pairs


def time_major_values(graph: Graph) -> frozenset[str]:
    """Values that reach a time-major recurrent op as its sequence or its mask, directly or
    through ops that keep the batch and time axes (``keeps_time_axis``)."""
    load_emitters()  # the family modules register which recurrent emitters run time-major
    wanted: set[str] = set()
    for node in reversed(graph.nodes):  # every reader of a node's outputs is seen before it
        if time_major_recurrent(node.op):
            sequence_and_mask = [node.inputs[0], *node.inputs[mask_index(node.op):]]
            wanted.update(v for v in sequence_and_mask if v)
        elif get_op(node.op).traits.keeps_time_axis and node.outputs[0] in wanted:
            wanted.update(v for v in node.inputs if v)
    return frozenset(wanted)


def compacted_masks(graph: Graph) -> dict[str, tuple[str, ...]]:
    """Mask -> first outputs of the native recurrent ops that read it: each such mask is
    compacted once and shared by all of them (a Scan-form recurrent op reads masks as
    they are)."""
    readers: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.op in _FUSABLE and native(node) and mask_value(node):
            readers.setdefault(mask_value(node), []).append(node.outputs[0])
    return {mask: tuple(outs) for mask, outs in readers.items()}


def plan_export(graph: Graph) -> tuple[Graph, ExportPlan]:
    """Run the ONNX passes: the graph to emit, and the decisions the emitters follow."""
    graph = pair_bidirectional(graph)
    pairs = bidirectional_pairs(graph)
    return graph, ExportPlan(partners=pairs,
                             backward_halves=frozenset(n.outputs[0] for n in pairs.values()),
                             time_major=time_major_values(graph),
                             compacted=compacted_masks(graph))
