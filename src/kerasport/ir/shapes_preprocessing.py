"""Shape rules of the preprocessing ops (see kerasport.ir.shapes for the conventions)."""

from __future__ import annotations

from kerasport.ir.ops import shape_rule


def _same(shapes, **_):
    """x's shape."""
    return [shapes[0]]


for _op in ("Bucketize", "Lookup", "AutoContrast", "FarmHash"):
    shape_rule(_op)(_same)


@shape_rule("CategoryEncode")
def _category_encode(shapes, depth=1, mode="one_hot", dtype="float32"):
    """one_hot: (*x, depth); multi_hot and count: (*x[:-1], depth)."""
    x = shapes[0]
    if x is None:
        return [None]
    return [(*x, depth) if mode == "one_hot" else (*x[:-1], depth)]
