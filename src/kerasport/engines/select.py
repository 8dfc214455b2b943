"""Attach an engine to a Model (``use_engine``) and choose one (``auto``)."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import numpy as np

from kerasport.engines import litert, ort
from kerasport.engines.base import EngineUnavailable, Runner
from kerasport.errors import KerasportError, MissingExtraError, VerificationError
from kerasport.metrics import max_relative_error

NATIVE: dict[str, ModuleType] = {ort.NAME: ort, litert.NAME: litert}
ENGINE_NAMES = ("numpy", *NATIVE, "auto")
# max |engine - numpy| / max(1, |numpy|) on the reference input when an engine is built
CHECK_TOLERANCE = 1e-4
TIMED_RUNS = 5


def check_engine_name(engine: Any) -> None:
    """KerasportError unless ``engine`` is one of ENGINE_NAMES."""
    if engine not in ENGINE_NAMES:
        raise KerasportError(f"unknown engine {engine!r}: choose one of "
                             f"{', '.join(ENGINE_NAMES)}")


def _reference_inputs(model: Any) -> list[np.ndarray]:
    ref = model.reference if model.reference is not None else model.make_reference()
    return ref.inputs


def _check(model: Any, name: str, runner: Runner, inputs: list[np.ndarray]) -> float:
    """The engine's error against the NumPy runtime on ``inputs``; VerificationError above
    CHECK_TOLERANCE."""
    want = model.numpy_run(inputs)
    got = runner(inputs)
    if len(got) != len(want):
        raise VerificationError(f"the {name} engine gives {len(got)} outputs, the model has "
                                f"{len(want)}")
    got = [np.asarray(g).reshape(w.shape) if np.size(g) == w.size else np.asarray(g)
           for g, w in zip(got, want)]
    err = max_relative_error(got, want)
    if not err <= CHECK_TOLERANCE:
        raise VerificationError(f"the {name} engine differs from kerasport's NumPy runtime on "
                                f"the reference input: max relative error {err:.3g} > "
                                f"{CHECK_TOLERANCE:g}; use engine='numpy'")
    return err


def _build(model: Any, name: str, threads: int | None) -> tuple[Runner, float]:
    """Build the native engine ``name`` for ``model`` and check it: (runner, error)."""
    module = NATIVE[name]
    reason = module.missing()
    if reason:
        raise MissingExtraError(f"engine '{name}': {reason}")
    reason = module.unavailable(model)
    if reason:
        raise EngineUnavailable(f"engine '{name}': {reason}")
    runner = module.build(model, threads)
    return runner, _check(model, name, runner, _reference_inputs(model))


def _median_ms(runner: Runner, inputs: list[np.ndarray]) -> float:
    runner(inputs)  # warm-up
    times = []
    for _ in range(TIMED_RUNS):
        start = time.perf_counter()
        runner(inputs)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def choose_engine(model: Any, threads: int | None = None) -> tuple[str, Runner | None, list[str]]:
    """The fastest engine that is installed and runs every op of ``model``: each candidate is
    built, checked, and timed (median of 5 runs on the reference input). Returns (name,
    runner or None for numpy, one line per engine saying why it was chosen or skipped)."""
    inputs = _reference_inputs(model)
    timed: dict[str, tuple[float, Runner | None]] = {
        "numpy": (_median_ms(model.numpy_run, inputs), None)}
    notes = []
    for name in NATIVE:
        try:
            runner, err = _build(model, name, threads)
        except KerasportError as exc:
            notes.append(f"{name}: skipped: {exc}")
            continue
        timed[name] = (_median_ms(runner, inputs), runner)
        notes.append(f"{name}: checked against numpy (max relative error {err:.1e})")
    best = min(timed, key=lambda k: timed[k][0])
    batch = inputs[0].shape[0] if inputs and inputs[0].ndim else 0
    speed = ", ".join(f"{k} {ms:.3g} ms" for k, (ms, _) in sorted(timed.items(),
                                                                key=lambda kv: kv[1][0]))
    notes.insert(0, f"auto chose {best}: fastest on the reference input (batch {batch}, "
                    f"median of {TIMED_RUNS}): {speed}")
    return best, timed[best][1], notes


def use_engine(model: Any, engine: str = "numpy", threads: int | None = None) -> Any:
    """Make ``model.predict`` run on ``engine`` ("numpy", "onnxruntime", "litert" or "auto");
    a native engine is built in memory from kerasport's own export and checked once against
    the NumPy runtime on the reference input (the recorded one for a bundle). Returns
    ``model``; ``model.engine`` names the engine, ``model.engine_notes`` says why."""
    check_engine_name(engine)
    if engine == "numpy":
        model.set_engine("numpy", None, [])
    elif engine == "auto":
        name, runner, notes = choose_engine(model, threads)
        model.set_engine(name, runner, notes)
    else:
        runner, err = _build(model, engine, threads)
        model.set_engine(engine, runner, [f"{engine}: checked against numpy (max relative "
                                          f"error {err:.1e})"])
    return model
