"""Run a TFLite file in LiteRT and compare it with kerasport's float reference."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite._deps import litert_interpreter_class

LATENCY_RUNS = 200  # at most this many single-sample invokes are timed


@dataclass
class TFLiteCheck:
    """How a TFLite file compares with the float reference on ``n_samples`` inputs.

    ``max_error``: max|tflite - reference| / max(1, max|reference|) over all outputs;
    ``mean_abs_error``: mean|tflite - reference|; ``top1_agreement``: share of samples whose
    first output has the same argmax (classifiers only); ``accuracy`` / ``float_accuracy``:
    against labels, when given; ``latency_ms``: median single-sample invoke time (1 thread).
    """

    n_samples: int
    max_error: float
    mean_abs_error: float
    top1_agreement: float | None
    accuracy: float | None
    float_accuracy: float | None
    latency_ms: float
    interpreter: str


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    if not scale:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if np.dtype(detail["dtype"]).kind == "f":
        return y.astype(np.float32)
    scale, zero = detail["quantization"]
    if not scale:
        return y.astype(np.float32)
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats numbered (``h``, ``h_2``): the signature names kerasport's
    writer gives outputs that share a Keras name."""
    seen: set[str] = set()
    out = []
    for name in names:
        base, k = name, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        out.append(name)
    return out


def _output_keys(keys: list[str], output_names: list[str]) -> list[str]:
    numbered = {f"output_{i}" for i in range(len(keys))}
    if set(keys) == numbered:
        return [f"output_{i}" for i in range(len(keys))]
    if set(output_names) == set(keys):
        return list(output_names)
    if set(unique_names(output_names)) == set(keys):
        return unique_names(output_names)
    return sorted(keys)


class FlexUnavailable(KerasportError):
    """The model holds Flex (TensorFlow) ops and LiteRT's Python package has no Flex
    delegate, so the file cannot be run here."""


def _runner(content: bytes) -> tuple[Any, str]:
    interpreter_cls = litert_interpreter_class()
    try:
        interp = interpreter_cls(model_content=content, num_threads=1)
        interp.allocate_tensors()  # prepares every op: missing kernels fail here
        return interp.get_signature_runner(), "LiteRT"
    except (RuntimeError, ValueError) as exc:
        if "Flex" in str(exc) or "Select TensorFlow op" in str(exc):
            ops = sorted(set(re.findall(r"\((Flex\w+)\)", str(exc))))
            raise FlexUnavailable(f"the file holds TensorFlow (Flex) ops{' ' if ops else ''}"
                                  f"{', '.join(ops)}; LiteRT's Python package has no Flex "
                                  "delegate, so it was not run here (the device's "
                                  "interpreter must link the Flex delegate)") from exc
        raise KerasportError(f"LiteRT cannot load the converted model: {exc}") from exc


def run_tflite(content: bytes, inputs: list[np.ndarray], input_names: list[str],
               output_names: list[str]) -> tuple[list[np.ndarray], float, str]:
    """Outputs of the TFLite model for ``inputs`` (one sample at a time, quantized I/O
    converted with each tensor's scale/zero point), median latency in ms, interpreter used."""
    runner, which = _runner(content)
    in_details = runner.get_input_details()
    out_details = runner.get_output_details()
    missing = [n for n in input_names if n not in in_details]
    if missing:
        raise KerasportError(f"the TFLite signature's inputs are {sorted(in_details)}; "
                             f"expected {input_names}")
    keys = _output_keys(list(out_details), output_names)
    outs: list[list[np.ndarray]] = [[] for _ in keys]
    times = []
    for i in range(inputs[0].shape[0]):
        feed = {n: _quantize(a[i:i + 1], in_details[n]) for n, a in zip(input_names, inputs)}
        start = time.perf_counter()
        got = runner(**feed)
        if i < LATENCY_RUNS:
            times.append(time.perf_counter() - start)
        for j, k in enumerate(keys):
            outs[j].append(_dequantize(np.asarray(got[k]), out_details[k]))
    return [np.concatenate(o) for o in outs], float(np.median(times) * 1e3), which


def compare(content: bytes, model: Any, inputs: list[np.ndarray],
            labels: np.ndarray | None = None) -> TFLiteCheck:
    """Run ``content`` in LiteRT on ``inputs`` and compare with ``model`` (kerasport's
    runtime, the float reference)."""
    from kerasport.metrics import max_relative_error
    from kerasport.model import as_list

    want = as_list(model.predict(inputs if len(inputs) > 1 else inputs[0]))
    got, latency, which = run_tflite(content, inputs, model.input_names, model.output_names)
    if len(got) != len(want):
        raise KerasportError(f"the TFLite model has {len(got)} outputs, the Keras model "
                             f"{len(want)}")
    got = [g.reshape(w.shape).astype(np.float64) for g, w in zip(got, want)]
    worst = max_relative_error(got, want)
    total = sum(float(np.abs(g - w).sum()) for g, w in zip(got, want))
    count = sum(w.size for w in want)
    top1 = accuracy = float_accuracy = None
    first_got, first_want = got[0].reshape(want[0].shape), want[0]
    if first_want.ndim == 2 and first_want.shape[1] > 1:
        top1 = float(np.mean(first_got.argmax(1) == first_want.argmax(1)))
        if labels is not None:
            y = np.asarray(labels)
            if y.ndim == 2 and y.shape[1] == first_want.shape[1]:
                y = y.argmax(1)  # one-hot labels
            y = y.reshape(-1)
            if y.shape[0] != first_want.shape[0]:
                raise KerasportError(f"{y.shape[0]} labels for {first_want.shape[0]} samples")
            accuracy = float(np.mean(first_got.argmax(1) == y))
            float_accuracy = float(np.mean(first_want.argmax(1) == y))
    elif labels is not None:
        raise KerasportError("labels were given but the model's first output is not a "
                             "(batch, classes) array")
    return TFLiteCheck(inputs[0].shape[0], worst, total / max(count, 1), top1, accuracy,
                       float_accuracy, latency, which)
