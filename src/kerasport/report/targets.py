"""What a report measures per target: the converted file's size and conversion time (a real
``kerasport.convert`` into a scratch folder) and each layer's error against the float32 NumPy
runtime.

Per-layer errors come from a *probed* copy of the graph whose outputs also include every
layer's output value: the same ops and weights, converted by the same target and run in its
engine (the quantized bundle's weights in the NumPy runtime, ONNX files in ONNX Runtime,
TFLite files in LiteRT). Targets that run kerasport's own code (``python``) have no per-layer
column: their outputs are the runtime's.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kerasport.errors import InputError, KerasportError
from kerasport.ir.graph import Graph
from kerasport.metrics import max_relative_error
from kerasport.model import Model

Probe = Callable[[Graph, list[np.ndarray], "np.ndarray | None", list[str]],
                 list[np.ndarray]]


@dataclass(frozen=True)
class TargetSpec:
    """A report column: the ``kerasport.convert`` options it stands for and how to read every
    layer's output from it (None: not observable per layer)."""

    name: str
    to: str
    options: dict[str, Any]
    probe: Probe | None
    needs_calibration: bool = False


@dataclass
class TargetResult:
    """One target's row in the report."""

    name: str
    ok: bool
    size: int | None = None
    seconds: float | None = None
    error: float | None = None
    note: str = ""
    layer_errors: dict[str, float] = field(default_factory=dict)


def probe_graph(graph: Graph, values: list[str]) -> Graph:
    """``graph`` with ``values`` appended to its outputs (a list structure; a value may be
    both an output and a probe)."""
    extra = list(values)
    return replace(graph, outputs=graph.outputs + tuple(extra),
                   output_names=tuple(graph.output_names) + tuple(f"probe_{i}" for i in
                                                                  range(len(extra))),
                   output_structure="list")


def _bundle_probe(mode: str) -> Probe:
    def run(graph: Graph, x: list[np.ndarray], calibration: np.ndarray | None,
            values: list[str]) -> list[np.ndarray]:
        from kerasport.quantize.weights import dequantize, quantize_constants

        constants = graph.constants if mode == "float32" else dequantize(
            quantize_constants(graph, mode))
        model = Model(probe_graph(replace(graph, constants=constants), values))
        return model._executor.run(x)[len(graph.outputs):]

    return run


def _onnx_probe(quantize: str | None) -> Probe:
    def run(graph: Graph, x: list[np.ndarray], calibration: Any,
            values: list[str]) -> list[np.ndarray]:
        import onnx
        import onnxruntime as ort

        from kerasport.export.onnx import to_onnx
        from kerasport.export.onnx.quantize import quantize_onnx

        probed = probe_graph(graph, values)
        proto = to_onnx(Model(probed))
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "probe.onnx")
            onnx.save(proto, path)
            if quantize:
                quantize_onnx(path, path + ".q", quantize, list(graph.inputs), calibration)
                path += ".q"
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feed = {i.name: a for i, a in zip(session.get_inputs(), x)}
            outs = session.run(None, feed)
        return [np.asarray(o) for o in outs[len(graph.outputs):]]

    return run


TARGETS: dict[str, TargetSpec] = {spec.name: spec for spec in (
    TargetSpec("bundle", "bundle", {}, _bundle_probe("float32")),
    TargetSpec("bundle-float16", "bundle", {"weights": "float16"}, _bundle_probe("float16")),
    TargetSpec("bundle-int8", "bundle", {"weights": "int8"}, _bundle_probe("int8")),
    TargetSpec("python", "python", {}, None),
    TargetSpec("onnx", "onnx", {}, _onnx_probe(None)),
    TargetSpec("onnx-dynamic", "onnx", {"quantize": "dynamic"}, _onnx_probe("dynamic")),
    TargetSpec("onnx-static", "onnx", {"quantize": "static"}, _onnx_probe("static"),
               needs_calibration=True),
    TargetSpec("tflite", "tflite", {}, None),
    TargetSpec("tflite-float16", "tflite", {"quantize": "float16"}, None),
    TargetSpec("tflite-dynamic", "tflite", {"quantize": "dynamic"}, None),
    TargetSpec("tflite-int8", "tflite", {"quantize": "int8"}, None, needs_calibration=True),
)}
DEFAULT_TARGETS = ("bundle-float16", "bundle-int8", "onnx", "onnx-dynamic")


def parse_targets(text: str | None) -> list[str]:
    """``"onnx,tflite-int8"`` -> names, checked against the known targets."""
    if not text:
        return list(DEFAULT_TARGETS)
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in TARGETS]
    if unknown or not names:
        raise InputError(f"--targets: unknown target(s) {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(TARGETS)}")
    return names


def _convert(spec: TargetSpec, source: str, work: str, calibration: str | None,
             result: TargetResult) -> None:
    from kerasport.conversion import ConvertOptions, convert_with

    options = dict(spec.options)
    if calibration and spec.to in ("onnx", "tflite") and spec.options.get("quantize") in (
            "static", "int8", "uint8"):
        options["calibration"] = calibration
    out = os.path.join(work, spec.name + {"onnx": ".onnx", "tflite": ".tflite",
                                          "python": ""}.get(spec.to, ".npz"))
    done = convert_with(source, out, ConvertOptions.create(spec.to, **options))
    result.size, result.seconds, result.error = done.size, done.seconds, done.error


def measure(spec: TargetSpec, source: str, graph: Graph, inputs: list[np.ndarray],
            reference: dict[str, np.ndarray], calibration: str | None,
            calibration_arrays: list[np.ndarray] | None) -> TargetResult:
    """Convert ``source`` to the target and compare each probe value with ``reference``
    (probe value -> float32 runtime output). Failures are recorded, not raised."""
    result = TargetResult(spec.name, ok=True)
    if spec.needs_calibration and not calibration:
        return TargetResult(spec.name, False, note="needs --calibration data")
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as work:
            _convert(spec, source, work, calibration, result)
        if spec.probe is None:
            result.note = "per-layer values not observable in this target"
            return result
        names = list(reference)
        got = spec.probe(graph, inputs, calibration_arrays, names)
        result.layer_errors = {name: max_relative_error([g], [reference[name]])
                               for name, g in zip(names, got)
                               if np.shape(g) == np.shape(reference[name])}
        outputs = [result.layer_errors[o] for o in graph.outputs if o in result.layer_errors]
        if len(outputs) == len(graph.outputs):
            result.error = max(outputs)
    except (KerasportError, ImportError) as exc:
        result.ok = False
        result.note = str(exc).splitlines()[0][:300]
    if result.seconds is None:
        result.seconds = time.perf_counter() - start
    return result
