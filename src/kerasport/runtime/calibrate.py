"""Activation ranges for static quantization: the NumPy runtime runs the calibration samples
batch by batch and every float value (graph inputs and each op's outputs) is recorded into a
fixed-size histogram as soon as it is computed, then freed as in a normal run, so memory is
bounded by one batch's live values plus one histogram per value."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasport.errors import InputError, KerasportError
from kerasport.ir.graph import Graph
from kerasport.quantize.ranges import DEFAULT_PERCENTILE, ESTIMATORS, RangeRecorder
from kerasport.runtime.executor import Executor

CALIBRATION_BATCH = 64


def check_calibration(graph: Graph, arrays: Sequence[np.ndarray], source: str) -> None:
    """Refuse calibration data that cannot calibrate ``graph``: wrong count, rank, shape or
    dtype per input, no samples, or NaN/infinite values. ``source`` names the data in
    messages."""
    if len(arrays) != len(graph.inputs):
        raise InputError(f"calibration data {source}: {len(arrays)} arrays for the model's "
                         f"{len(graph.inputs)} inputs ({', '.join(graph.inputs)})")
    counts = set()
    for name, arr in zip(graph.inputs, arrays):
        value = graph.values[name]
        arr = np.asarray(arr)
        want = np.dtype(value.dtype)
        if arr.dtype.kind not in "biuf" or (want.kind == "f") != (arr.dtype.kind == "f"):
            raise InputError(f"calibration data {source}: input '{name}' has dtype "
                             f"{arr.dtype}; the model expects {value.dtype}")
        shape = value.shape or ()
        if arr.ndim != len(shape) or any(d is not None and d != s
                                         for d, s in zip(shape[1:], arr.shape[1:])):
            raise InputError(f"calibration data {source}: input '{name}' has shape "
                             f"{arr.shape}; the model expects {tuple(shape)} (batch first)")
        if arr.shape[0] == 0:
            raise InputError(f"calibration data {source} holds no samples")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = int(np.sum(~np.isfinite(arr)))
            raise InputError(f"calibration data {source}: input '{name}' holds {bad} NaN or "
                             "infinite values; clean or drop those samples")
        counts.add(arr.shape[0])
    if len(counts) > 1:
        raise InputError(f"calibration data {source}: inputs have different sample counts "
                         f"{sorted(counts)}")


def record_statistics(graph: Graph, arrays: Sequence[np.ndarray], source: str = "given",
                      batch: int = CALIBRATION_BATCH) -> RangeRecorder:
    """Run ``graph`` on the calibration ``arrays`` (one per input, batch first) and return the
    statistics of every float value."""
    check_calibration(graph, arrays, source)
    executor = Executor(graph)
    recorder = RangeRecorder()
    n = np.asarray(arrays[0]).shape[0]
    for start in range(0, n, batch):
        part = [np.asarray(a[start:start + batch]).astype(graph.values[name].dtype, copy=False)
                for name, a in zip(graph.inputs, arrays)]
        _observed_run(executor, part, recorder)
    return recorder


def _observed_run(executor: Executor, inputs: list[np.ndarray],
                  recorder: RangeRecorder) -> None:
    graph = executor.graph
    env = dict(graph.constants)
    env[""] = None
    for name, arr in zip(graph.inputs, inputs):
        env[name] = arr
        recorder.observe(name, arr)
    for step in executor.steps:
        try:
            args = [env[n] for n in step.inputs]
            out = step.fn(*args, **step.attrs) if step.attrs else step.fn(*args)
        except Exception as exc:
            raise KerasportError(f"op failed in layer '{step.layer}' on the calibration "
                                 f"data: {type(exc).__name__}: {exc}") from exc
        outs = [out] if len(step.outputs) == 1 else list(out)
        for name, value in zip(step.outputs, outs):
            env[name] = value
            try:
                recorder.observe(name, value)
            except KerasportError as exc:
                raise KerasportError(f"layer '{step.layer}': {exc}") from exc
        for name in step.frees:
            del env[name]


def calibrate_ranges(graph: Graph, arrays: Sequence[np.ndarray], estimator: str = "minmax",
                     percentile: float = DEFAULT_PERCENTILE, source: str = "given",
                     ) -> dict[str, tuple[float, float]]:
    """``(lo, hi)`` of every float value of ``graph`` on the calibration data, by
    ``estimator`` (one of ``ESTIMATORS``); each range contains 0."""
    if estimator not in ESTIMATORS:
        raise KerasportError(f"unknown range estimator '{estimator}': use one of "
                             f"{', '.join(ESTIMATORS)}")
    return record_statistics(graph, arrays, source).ranges(estimator, percentile)
