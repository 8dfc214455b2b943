"""``run_bench``: every engine on the same model and inputs in one process run."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kerasport.bench import coldstart
from kerasport.bench.blas import blas_info, describe_blas, unset_note
from kerasport.bench.engines import ENGINES, Case, EngineUnavailable, import_tensorflow
from kerasport.ops import get_op

DEFAULT_ENGINES = ("numpy", "onnxruntime", "litert", "keras")


def _limit_numpy_threads(threads: int, notes: list[str]) -> contextlib.AbstractContextManager:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        notes.append("threadpoolctl not installed: NumPy's BLAS threads are not limited")
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _load_keras(case: Case) -> None:
    try:
        import_tensorflow(case.threads)
        import keras

        case.keras_model = keras.models.load_model(case.keras_path, compile=False)
    except Exception as exc:  # missing package or a model Keras cannot load
        case.keras_error = f"{type(exc).__name__}: {exc}"


def _load_kerasport(case: Case) -> None:
    import kerasport

    try:
        case.kp_model = kerasport.load(case.keras_path)
    except Exception as exc:
        case.kp_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def input_specs(case: Case) -> list[tuple[str, tuple, str, int]]:
    """(name, shape, dtype, integer upper bound) of each input, from kerasport's graph or else
    from the Keras model. Integer inputs that index an Embedding stay below its row count."""
    if case.kp_model is not None:
        graph = case.kp_model.graph
        specs = []
        for name in graph.inputs:
            v = graph.values[name]
            rows = [graph.constants[n.inputs[0]].shape[0] for n in graph.nodes
                    if get_op(n.op).traits.batch == "table" and n.inputs[1] == name
                    and n.inputs[0] in graph.constants]
            specs.append((name, tuple(v.shape), str(v.dtype), min(rows, default=2)))
        return specs
    model = case.keras_model
    rows = [layer.input_dim for layer in model.layers if hasattr(layer, "input_dim")]
    return [(t.name, tuple(t.shape), str(t.dtype), min(rows, default=2)) for t in model.inputs]


def make_inputs(specs: Sequence[tuple], batch: int, seed: int = 0) -> list[np.ndarray]:
    """Random inputs: standard normal floats, integers in [0, bound); free dims become 16."""
    rng = np.random.default_rng(seed)
    out = []
    for _, shape, dtype, bound in specs:
        full = [batch] + [16 if d is None else int(d) for d in shape[1:]]
        if np.dtype(dtype).kind in "iub":
            out.append(rng.integers(0, bound, size=full).astype(dtype))
        else:
            out.append(rng.standard_normal(full).astype(dtype))
    return out


def _stats(times: list[float]) -> dict[str, float]:
    q = np.percentile(times, [25, 75])
    return {"median_ms": statistics.median(times) * 1e3, "p25_ms": float(q[0]) * 1e3,
            "p75_ms": float(q[1]) * 1e3, "min_ms": min(times) * 1e3, "runs": len(times)}


def time_runners(runners: dict[str, Callable], xs: list[np.ndarray], warmup: int, repeats: int,
                 budget: float, blocks: int = 3) -> tuple[dict[str, dict], dict[str, list]]:
    """Warm up every runner, then time them in ``blocks`` alternating blocks of consecutive
    runs (so that drifting machine load hits every engine alike). The run count is
    ``repeats``, fewer (at least 5) if one round of all engines would exceed ``budget`` s."""
    outs: dict[str, list] = {}
    last: dict[str, float] = {}
    for name, run in runners.items():
        for _ in range(max(warmup, 1)):
            start = time.perf_counter()
            outs[name] = run(xs)
            last[name] = time.perf_counter() - start
    per_round = sum(last.values()) or 1e-9
    n = max(5, min(repeats, int(budget / per_round)))
    times: dict[str, list[float]] = {name: [] for name in runners}
    per_block = -(-n // blocks)
    for _ in range(blocks):
        for name, run in runners.items():
            for _ in range(per_block):
                start = time.perf_counter()
                run(xs)
                times[name].append(time.perf_counter() - start)
    return {name: _stats(t) for name, t in times.items()}, outs


def _max_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    from kerasport.metrics import max_relative_error

    return max_relative_error([np.asarray(g, np.float32) for g in got],
                              [np.asarray(w, np.float32) for w in want])


def run_bench(model_path: str, engines: Sequence[str] = DEFAULT_ENGINES,
              batches: Sequence[int] = (1, 32), threads: int = 2, repeats: int = 20,
              warmup: int = 3, cold: bool = True, budget: float = 10.0,
              reference: bool = True, workdir: str | None = None,
              log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Benchmark ``model_path`` (.keras/.h5) on ``engines`` at each batch size; returns a
    JSON-ready dict (see ``kerasport.bench.report`` for its table). Errors are measured
    against Keras when it is installed (``reference=False`` skips loading it unless the keras
    or litert engine needs it), else against the NumPy runtime."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engines {unknown}; choose from {list(ENGINES)}")
    notes: list[str] = []
    note = unset_note()
    if note:
        notes.append(note)
    tmp = workdir is None
    work = tempfile.mkdtemp(prefix="kerasport-bench-") if tmp else workdir
    os.makedirs(work, exist_ok=True)
    case = Case(os.path.abspath(model_path), work, threads)
    result: dict[str, Any] = {
        "model": os.path.basename(model_path), "threads": threads, "batches": list(batches),
        "notes": notes, "engines": {}}
    load = os.getloadavg()[0]
    try:
        with _limit_numpy_threads(threads, notes):
            result["blas"] = blas_info()
            notes.insert(0, describe_blas(result["blas"]))
            _run(case, list(engines), list(batches), repeats, warmup, cold, budget, reference,
                 result, log)
        result["load_average"] = [load, os.getloadavg()[0]]
        notes.append(f"machine load average {load:.1f} at the start, "
                     f"{result['load_average'][1]:.1f} at the end ({os.cpu_count()} cores)")
    finally:
        if tmp:
            shutil.rmtree(work, ignore_errors=True)
    return result


def _run(case: Case, engines: list[str], batches: list[int], repeats: int, warmup: int,
         cold: bool, budget: float, reference: bool, result: dict,
         log: Callable[[str], None]) -> None:
    notes = result["notes"]
    log(f"loading {case.keras_path}")
    _load_kerasport(case)
    if case.kp_model is not None:
        result["weights_mb"] = case.kp_model.graph.num_params() * 4 / 2**20
    if reference or any(e in engines for e in ("keras", "litert")):
        _load_keras(case)
    if case.keras_model is None:
        why = case.keras_error or "not loaded"
        notes.append(f"Keras reference unavailable ({why}): errors are against the NumPy "
                     "runtime")
    if case.kp_model is None and case.keras_model is None:
        raise RuntimeError(f"neither kerasport nor Keras can load {case.keras_path}: "
                           f"{case.kp_error}; {case.keras_error}")
    specs = input_specs(case)
    case.extra["input_names"] = [s[0] for s in specs]
    case.extra["input_shapes"] = [s[1] for s in specs]
    rows: dict[str, dict] = result["engines"]
    paths = _prepare_engines(case, engines, rows, log)
    for batch in batches:
        _time_batch(case, specs, batch, paths, rows, (warmup, repeats, budget), log)
    if cold:
        _cold(case, paths, specs, rows, log)


def _prepare_engines(case: Case, engines: list[str], rows: dict, log) -> dict[str, str]:
    """Convert the model for every engine (a row each: ok, skipped or failed); the paths of
    the engines that are ready."""
    paths: dict[str, str] = {}
    for name in engines:
        engine = ENGINES[name]
        row: dict[str, Any] = {"status": "ok"}
        rows[name] = row
        try:
            engine.check()
            log(f"{name}: preparing")
            path, seconds = engine.prepare(case)
            paths[name] = path
            row["file_mb"] = os.path.getsize(path) / 2**20
            row["convert_s"] = seconds
            if name == "numpy":
                row.update(case.extra.get("numpy_convert_detail", {}))
            if name == "litert" and case.extra.get("litert_fixed_batch"):
                row["note"] = ("converted once per batch size (fixed batch): TFLite needs a "
                               "static batch for recurrent layers")
        except EngineUnavailable as exc:
            row.update(status="skipped", note=str(exc))
        except Exception as exc:
            row.update(status="failed", note=f"{type(exc).__name__}: {str(exc)[:300]}")
    return paths


def _time_batch(case: Case, specs: list, batch: int, paths: dict[str, str], rows: dict,
                timing: tuple, log) -> None:
    """Time every ready engine at ``batch`` (``timing``: warmup, repeats, budget) and record
    latency and the largest error against Keras (or the NumPy runtime)."""
    warmup, repeats, budget = timing
    xs = make_inputs(specs, batch)
    runners = {}
    for name, path in paths.items():
        if rows[name]["status"] != "ok":
            continue
        try:
            runners[name] = ENGINES[name].runner(path, case, batch)
        except Exception as exc:
            rows[name].update(status="failed", note=f"{type(exc).__name__}: {exc}")
    log(f"batch {batch}: timing {', '.join(runners)}")
    stats, outs = time_runners(runners, xs, warmup, repeats, budget)
    ref = outs.get("keras", outs.get("numpy"))
    if case.keras_model is not None and "keras" not in outs:
        ref = ENGINES["keras"].runner(case.keras_path, case, batch)(xs)
    for name, st in stats.items():
        rows[name].setdefault("latency", {})[str(batch)] = st
        if ref is not None:
            rows[name].setdefault("max_error", {})[str(batch)] = _max_error(outs[name], ref)


def _cold(case: Case, paths: dict[str, str], specs: list, rows: dict, log) -> None:
    inputs = []
    for i, x in enumerate(make_inputs(specs, 1)):
        p = os.path.join(case.workdir, f"input{i}.npy")
        np.save(p, x)
        inputs.append(p)
    names = case.extra["input_names"]
    for name, path in paths.items():
        if rows[name]["status"] != "ok":
            continue
        log(f"{name}: cold start")
        engine_names = names
        if name == "litert":
            from kerasport.bench.engines import signature_input_names

            engine_names = signature_input_names(path, names)
        try:
            threads = getattr(ENGINES[name], "cold_threads", case.threads)
            rows[name].update(coldstart.measure(ENGINES[name].cold_code, path, inputs,
                                                engine_names, threads))
        except Exception as exc:
            rows[name]["cold_note"] = str(exc)[:300]
