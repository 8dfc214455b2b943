"""Graph rewrites: small functions Graph -> Graph, each keeping the outputs unchanged (up to
float rounding) and tested on its own."""

from __future__ import annotations

from kerasport.ir.graph import Graph
from kerasport.ir.passes.fold_affine import fold_affine

PASSES = (fold_affine,)


def optimize(graph: Graph) -> Graph:
    """Apply every pass in order."""
    for fn in PASSES:
        graph = fn(graph)
    return graph


__all__ = ["PASSES", "fold_affine", "optimize"]
