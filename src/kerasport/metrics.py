"""The one error measure kerasport reports everywhere (verify, ONNX/TFLite checks, debug,
benchmarks, parity tests): max|got - want| / max(1, max|want|)."""

from __future__ import annotations

import numpy as np


def max_relative_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """max|got - want| / max(1, max|want|) over all outputs (inf if NaNs differ)."""
    worst = 0.0
    for g, w in zip(got, want):
        if not w.size:
            continue
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            return float("inf")
        scale = max(1.0, float(np.nanmax(np.abs(w))) if np.isfinite(w).any() else 1.0)
        diff = np.abs(g.astype(np.float64) - w)
        worst = max(worst, float(np.nanmax(diff)) / scale if not np.isnan(diff).all() else 0.0)
    return worst
