"""Activation statistics and range estimators for static (full integer) quantization.

Each observed value keeps its exact min/max and a histogram of fixed size, so memory stays
bounded whatever the amount of calibration data: ``BINS`` counts over ``[-bound, bound]``,
where ``bound`` doubles (adjacent bins merged in pairs) whenever a larger magnitude arrives.

Estimators turn the statistics into a clipping range ``(lo, hi)`` that always contains 0 (an
asymmetric int8 activation must represent 0 exactly):

- ``minmax``: the observed min and max.
- ``percentile``: the ``100 - p`` and ``p`` percentiles (default p = 99.99), from the
  histogram, never beyond min/max.
- ``mse``: the range minimising the expected squared quantization error over the histogram
  (rounding noise ``scale**2 / 12`` inside, squared clipping distance outside), searched by
  alternately moving the upper and the lower end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kerasport.errors import KerasportError

BINS = 4096  # a multiple of 4, so merging pairs keeps 0 on a bin edge
ESTIMATORS = ("minmax", "percentile", "mse")
DEFAULT_PERCENTILE = 99.99
LEVELS = 255  # int8 steps between the ends of an activation range
MSE_CANDIDATES = 200  # ends tried per side and round of the MSE search
MSE_ROUNDS = 3
MSE_BINS = 1024  # divides BINS


@dataclass
class ValueStats:
    """Running statistics of one value: element count, min, max and a histogram."""

    count: int = 0
    min: float = np.inf
    max: float = -np.inf
    bound: float = 0.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))

    def add(self, x: np.ndarray) -> None:
        """Record the (finite) elements of ``x``."""
        flat = np.asarray(x, dtype=np.float64).reshape(-1)
        if not flat.size:
            return
        lo, hi = float(flat.min()), float(flat.max())
        self.count += flat.size
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        peak = max(abs(lo), abs(hi))
        if self.bound == 0.0:
            self.bound = peak if peak > 0 else 1e-12
        while peak > self.bound:
            self._widen()
        width = 2 * self.bound / BINS
        idx = np.floor((flat + self.bound) / width).astype(np.int64)
        np.clip(idx, 0, BINS - 1, out=idx)
        self.counts += np.bincount(idx, minlength=BINS)

    def _widen(self) -> None:
        merged = self.counts.reshape(-1, 2).sum(axis=1)
        self.counts = np.zeros(BINS, np.int64)
        self.counts[BINS // 4: BINS // 4 + merged.size] = merged
        self.bound *= 2

    @property
    def edges(self) -> np.ndarray:
        """The BINS + 1 bin edges."""
        return np.linspace(-self.bound, self.bound, BINS + 1)


def estimate_range(stats: ValueStats, estimator: str = "minmax",
                   percentile: float = DEFAULT_PERCENTILE) -> tuple[float, float]:
    """The clipping range ``(lo, hi)`` of one value by ``estimator``; it contains 0."""
    if estimator not in ESTIMATORS:
        raise KerasportError(f"unknown range estimator '{estimator}': use one of "
                             f"{', '.join(ESTIMATORS)}")
    if not stats.count:
        raise KerasportError("no calibration data was recorded for this value")
    lo, hi = min(stats.min, 0.0), max(stats.max, 0.0)
    if estimator == "percentile":
        if not 50.0 < percentile <= 100.0:
            raise KerasportError(f"percentile must be in (50, 100], got {percentile}")
        lo = max(lo, min(_quantile(stats, 1.0 - percentile / 100.0), 0.0))
        hi = min(hi, max(_quantile(stats, percentile / 100.0), 0.0))
    elif estimator == "mse":
        lo, hi = _mse_range(stats, lo, hi)
    return float(lo), float(hi)


def _quantile(stats: ValueStats, q: float) -> float:
    """The value below which a share ``q`` of the elements lie, interpolated in its bin."""
    cum = np.cumsum(stats.counts)
    target = q * cum[-1]
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(i, BINS - 1)
    before = cum[i - 1] if i else 0
    inside = stats.counts[i]
    frac = (target - before) / inside if inside else 0.0
    edges = stats.edges
    return float(edges[i] + frac * (edges[i + 1] - edges[i]))


def range_error(centres: np.ndarray, counts: np.ndarray, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
    """Expected squared quantization error (summed over elements) of histogram bins at
    ``centres`` with ``counts`` for each candidate range ``lo[k], hi[k]``."""
    lo, hi = np.asarray(lo, np.float64)[:, None], np.asarray(hi, np.float64)[:, None]
    scale = (hi - lo) / LEVELS
    clipped = np.clip(centres[None, :], lo, hi)
    inside = clipped == centres[None, :]
    err = np.where(inside, scale ** 2 / 12.0, (centres[None, :] - clipped) ** 2)
    return (err * counts[None, :]).sum(axis=1)


def _mse_range(stats: ValueStats, lo: float, hi: float) -> tuple[float, float]:
    if hi - lo <= 0:
        return lo, hi
    # the search runs on a coarser histogram (MSE_BINS): its cost is bins x candidates
    merged = stats.counts.reshape(MSE_BINS, -1).sum(axis=1)
    edges = np.linspace(-stats.bound, stats.bound, MSE_BINS + 1)
    used = merged > 0
    centres = ((edges[:-1] + edges[1:]) / 2)[used]
    counts = merged[used].astype(np.float64)
    best_lo, best_hi = lo, hi
    for _ in range(MSE_ROUNDS):
        if hi > 0:
            his = np.linspace(0, hi, MSE_CANDIDATES + 1)[1:]
            err = range_error(centres, counts, np.full_like(his, best_lo), his)
            best_hi = float(his[int(np.argmin(err))])
        if lo < 0:
            los = np.linspace(lo, 0, MSE_CANDIDATES + 1)[:-1]
            err = range_error(centres, counts, los, np.full_like(los, best_hi))
            best_lo = float(los[int(np.argmin(err))])
    return best_lo, best_hi


class RangeRecorder:
    """Statistics of named values, fed batch by batch (see ``kerasport.runtime.calibrate``)."""

    def __init__(self) -> None:
        self.stats: dict[str, ValueStats] = {}

    def observe(self, name: str, x: np.ndarray) -> None:
        """Record one batch of the float value ``name``; refuses NaN and infinities."""
        arr = np.asarray(x)
        if arr.dtype.kind != "f":
            return
        if not np.all(np.isfinite(arr)):
            raise KerasportError(f"value '{name}' holds NaN or infinite numbers on the "
                                 "calibration data: its range cannot be measured")
        self.stats.setdefault(name, ValueStats()).add(arr)

    def ranges(self, estimator: str = "minmax",
               percentile: float = DEFAULT_PERCENTILE) -> dict[str, tuple[float, float]]:
        """``(lo, hi)`` of every recorded value by ``estimator``."""
        return {name: estimate_range(s, estimator, percentile)
                for name, s in self.stats.items()}
