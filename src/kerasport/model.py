"""The user-facing model: ``predict`` with Keras semantics, ``save`` and ``verify``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from kerasport.bundle import Reference, save_bundle
from kerasport.errors import InputError, KerasportError, VerificationError
from kerasport.ir.graph import Graph
from kerasport.metrics import max_relative_error
from kerasport.quantize.weights import dequantize, quantize_constants
from kerasport.runtime.executor import Executor

DEFAULT_BATCH_SIZE = 32  # keras.Model.predict's default
REFERENCE_BATCH = 2
MAX_REFERENCE_ELEMENTS = 1 << 26  # per input: 256 MB of float32


def _is_scalar(x: Any) -> bool:
    try:
        return np.ndim(x) == 0
    except Exception:  # ragged nesting: not a scalar
        return False


def _batch_size(batch_size: Any) -> int:
    """A batch size as given to predict: a positive integer (floats with integral values
    are accepted, as Keras does)."""
    ok = isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) or (
        isinstance(batch_size, (float, np.floating)) and float(batch_size).is_integer())
    if not ok or int(batch_size) < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _fmt(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class Model:
    """A converted model, run by the NumPy runtime.

    ``predict(x)`` and ``model(x)`` follow Keras: one array in and out for a single input or
    output; a list (or a dict keyed by input name) for several.
    """

    def __init__(self, graph: Graph, reference: Reference | None = None,
                 meta: dict | None = None):
        self.graph = graph
        self.reference = reference
        self.meta = dict(meta or {})
        self._executor = Executor(graph)
        self.engine = "numpy"  # see kerasport.engines
        self.engine_notes: list[str] = []
        self._run = self._executor.run

    # -- description ----------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        """Names of the inputs, in order."""
        return list(self.graph.inputs)

    @property
    def output_names(self) -> list[str]:
        """Names of the layers that produce the outputs, in order."""
        return list(self.graph.output_names)

    @property
    def input_shapes(self) -> list[tuple]:
        """Input shapes, None for free dimensions (the batch first)."""
        return [self.graph.values[n].shape for n in self.graph.inputs]

    @property
    def output_shapes(self) -> list[tuple]:
        """Output shapes as inferred at conversion."""
        return [self.graph.values[n].shape for n in self.graph.outputs]

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}{_fmt(s)}" for n, s in zip(self.input_names, self.input_shapes))
        return (f"<kerasport.Model '{self.graph.name}': inputs {ins}; {len(self.graph.nodes)} "
                f"ops, {self.graph.num_params()} parameters>")

    # -- running --------------------------------------------------------------------------
    def set_engine(self, name: str, runner: Any, notes: list[str]) -> None:
        """Run predict, ``__call__`` and verify with ``runner`` (inputs in graph order ->
        outputs in graph order; None: the NumPy runtime). Use kerasport.engines.use_engine."""
        self.engine, self.engine_notes = name, list(notes)
        self._run = self._executor.run if runner is None else runner

    def numpy_run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Outputs of the NumPy runtime for checked inputs in graph order, whatever engine."""
        return self._executor.run(inputs)

    def _arrays(self, x: Any) -> list[np.ndarray]:
        names = self.input_names
        if isinstance(x, Mapping):
            missing = [n for n in names if n not in x]
            unknown = [k for k in x if k not in names]
            if missing or unknown:
                raise InputError(f"inputs by name: missing {missing}, unknown {unknown}; the "
                                 f"model's inputs are {names}")
            items = [x[n] for n in names]
        elif isinstance(x, (list, tuple)) and not (
                len(names) == 1 and len(x) and not isinstance(x[0], np.ndarray)
                and _is_scalar(x[0])):
            items = list(x)
            if len(names) == 1 and len(items) != 1:
                items = [x]
        else:
            items = [x]
        if len(items) != len(names):
            raise InputError(f"the model takes {len(names)} inputs ({', '.join(names)}), got "
                             f"{len(items)}")
        return [self._check(n, a) for n, a in zip(names, items)]

    def _check(self, name: str, x: Any) -> np.ndarray:
        value = self.graph.values[name]
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged nesting, objects numpy cannot convert
            raise InputError(f"input '{name}': cannot make an array of {type(x).__name__} "
                             f"({exc})") from exc
        if arr.dtype.kind not in "biuf":
            raise InputError(f"input '{name}': dtype {arr.dtype} is not numeric; expected "
                             f"{value.dtype}")
        shape = value.shape
        if arr.ndim != len(shape):
            hint = ""
            if arr.ndim == len(shape) - 1:
                hint = " (a single example? add the batch axis: x[None])"
            raise InputError(f"input '{name}' expects shape {_fmt(shape)} (rank {len(shape)}), "
                             f"got an array of shape {arr.shape}{hint}")
        for i, (want, got) in enumerate(zip(shape, arr.shape)):
            if want is not None and i > 0 and want != got:
                raise InputError(f"input '{name}' expects shape {_fmt(shape)}, got "
                                 f"{arr.shape} (axis {i}: {got} instead of {want})")
        return arr.astype(value.dtype, copy=False)

    def _present(self, outs: list[np.ndarray]) -> Any:
        if self.graph.output_structure == "single":
            return outs[0]
        if self.graph.output_structure == "dict":
            return dict(zip(self.graph.output_names, outs))
        return outs

    def __call__(self, x: Any) -> Any:
        """Run the whole batch at once."""
        return self._present(self._run(self._arrays(x)))

    def predict(self, x: Any, batch_size: int | None = None) -> Any:
        """Outputs for ``x``, computed in batches of ``batch_size`` (32 if None, as Keras)."""
        arrays = self._arrays(x)
        n = arrays[0].shape[0]
        if any(a.shape[0] != n for a in arrays):
            raise InputError("all inputs must have the same batch size, got "
                             f"{[a.shape[0] for a in arrays]}")
        bs = DEFAULT_BATCH_SIZE if batch_size is None else _batch_size(batch_size)
        # an input whose first axis is fixed (an ONNX model with a fixed batch, or time-major)
        # cannot be split along it
        fixed = any(self.graph.values[i].shape and self.graph.values[i].shape[0] is not None
                    for i in self.graph.inputs)
        if n <= bs or fixed:
            return self._present(self._run(arrays))
        chunks = [self._run([a[i:i + bs] for a in arrays]) for i in range(0, n, bs)]
        return self._present([np.concatenate(parts) for parts in zip(*chunks)])

    def run_all(self, x: Any) -> dict[str, np.ndarray]:
        """Every intermediate value for ``x`` (debugging: find the first op that drifts)."""
        self._executor.run(self._arrays(x), keep_all=True)
        return {k: v for k, v in self._executor.last_values.items() if k}

    # -- bundle ---------------------------------------------------------------------------
    def make_reference(self, seed: int = 0) -> Reference:
        """Record a random reference input and the outputs it gives now."""
        rng = np.random.default_rng(seed)
        last: Exception | None = None
        for free in (8, 16, 32, 64):
            inputs = []
            for name in self.input_names:
                v = self.graph.values[name]
                shape = [REFERENCE_BATCH if i == 0 else (free if d is None else d)
                         for i, d in enumerate(v.shape)]
                if int(np.prod(shape, dtype=object)) > MAX_REFERENCE_ELEMENTS:
                    raise KerasportError(
                        f"input '{name}' declares shape {_fmt(v.shape)}: a reference input "
                        f"of {shape} would hold more than {MAX_REFERENCE_ELEMENTS} values; "
                        "the model config is corrupt or the model too large for a reference")
                if np.dtype(v.dtype).kind in "iub":
                    inputs.append(rng.integers(0, 2, size=shape).astype(v.dtype))
                else:
                    inputs.append(rng.standard_normal(shape).astype(v.dtype))
            try:
                return Reference(inputs, self._executor.run(inputs))
            except KerasportError as exc:
                last = exc
        raise KerasportError(f"cannot run a reference input through the model: {last}")

    def save(self, path: str, weights: str = "float32") -> None:
        """Write a bundle (graph, weights, reference input/output) atomically. ``weights``:
        "float32", "float16" (half the size) or "int8" (Dense/Conv kernels, about 4x smaller);
        the reference output stays the float32 one, so ``verify`` measures what was lost."""
        if self.reference is None:
            self.reference = self.make_reference()
        reference, meta = self.reference, dict(self.meta)
        if weights != "float32":
            # Record what the stored weights compute (so verify proves the file's integrity)
            # and how far that is from float32.
            lossy = Model(replace(self.graph, constants=dequantize(
                quantize_constants(self.graph, weights))))
            outs = lossy._executor.run(reference.inputs)
            meta["weights_error_vs_float32"] = max_relative_error(outs, reference.outputs)
            reference = Reference(reference.inputs, outs)
        save_bundle(self.graph, path, reference, meta, weights)

    def verify(self, tolerance: float = 1e-4) -> float:
        """Re-run the recorded reference; returns the max error relative to max(1, |ref|).
        Raises VerificationError above ``tolerance``."""
        if self.reference is None:
            raise VerificationError("this model has no recorded reference to verify against")
        worst = max_relative_error(self._run(self.reference.inputs),
                                   self.reference.outputs)
        if not worst <= tolerance:
            raise VerificationError(f"outputs drifted from the recorded reference: max relative "
                                    f"error {worst:.3g} > tolerance {tolerance:.3g}")
        return worst


def as_list(y: Any) -> list[np.ndarray]:
    """predict's result as a list of arrays, whatever its structure."""
    if isinstance(y, dict):
        return list(y.values())
    if isinstance(y, Sequence) and not isinstance(y, np.ndarray):
        return list(y)
    return [y]
