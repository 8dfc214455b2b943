"""Small helpers shared by the layer converters."""

from __future__ import annotations

from typing import Any


def ints(value: Any, rank: int) -> list[int]:
    """An int or a sequence from a config -> a list of ``rank`` ints."""
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)] * rank


def pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    """Padding/cropping config (int, (a, b) or ((a, b), ...)) -> ``rank`` (before, after)."""
    if isinstance(value, int):
        return [(value, value)] * rank
    value = list(value)
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(int(value[0]), int(value[1]))]
    out = []
    for v in value:
        out.append((int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1])))
    return out


def spatial_rank(class_name: str) -> int:
    """1, 2 or 3 from a class name ending in 1D/2D/3D."""
    for r in (1, 2, 3):
        if class_name.endswith(f"{r}D"):
            return r
    raise ValueError(f"no spatial rank in {class_name}")
