"""Plain-text tables and shapes shared by the command line and ``kerasport batch``."""

from __future__ import annotations

from typing import Any


def shape_text(shape: Any) -> str:
    """``(None, 28, 28, 1)``; several shapes comma-separated; ``?`` when unknown."""
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def table(rows: list[list[str]], header: list[str]) -> str:
    """Columns padded to their widest cell, a dashed line under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)
