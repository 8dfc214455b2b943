"""``kerasport report``: one self-contained HTML page showing a conversion.

The page draws the model's layer graph (shapes, parameters, support status; pan and zoom, a
search box), lists each target's file size and conversion time, and shows every layer's error
in each target and quantization mode against the float32 NumPy runtime, as a table, as colours
on the graph and as a plot of error by layer depth: where an int8 model loses its accuracy.

    >>> kerasport.report.write_report("model.keras", "report.html",
    ...                               targets=["onnx", "bundle-int8"])
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.report.layers import LayerGraph, from_graph, from_keras_spec
from kerasport.report.targets import (
    DEFAULT_TARGETS,
    TARGETS,
    TargetResult,
    measure,
    parse_targets,
)

__all__ = ["DEFAULT_TARGETS", "TARGETS", "Report", "build_report", "parse_targets",
           "write_report"]

REPORT_SAMPLES = 32


@dataclass
class Report:
    """What the page shows: the model, its layer graph and each target's measurements."""

    source: str
    model: dict[str, Any]
    layers: LayerGraph
    targets: list[TargetResult]
    inputs_note: str

    def to_json(self) -> dict[str, Any]:
        """The page's data, as plain JSON types."""
        names = [t.name for t in self.targets]
        layers = []
        for layer in self.layers.layers:
            row = asdict(layer)
            row["errors"] = {t.name: _finite(t.layer_errors[layer.probe]) for t in self.targets
                             if layer.probe is not None and layer.probe in t.layer_errors}
            layers.append(row)
        return {"source": self.source, "model": self.model, "layers": layers,
                "edges": [list(e) for e in self.layers.edges],
                "targets": [{k: _finite(v) if k == "error" else v
                             for k, v in asdict(t).items() if k != "layer_errors"}
                            for t in self.targets],
                "target_names": names, "inputs_note": self.inputs_note}


def _finite(x: float | None) -> float | str | None:
    """JSON has no inf/NaN: those become the strings "inf" / "nan"."""
    if x is None or np.isfinite(x):
        return x
    return "nan" if np.isnan(x) else "inf"


def _layer_graph(source: str, graph: Any | None) -> LayerGraph:
    """From the Keras config when ``source`` is a Keras file, else from the IR."""
    from kerasport.bundle import is_bundle
    from kerasport.keras.files import read_keras_file, sniff

    kind = sniff(source)
    if kind in ("zip", "hdf5") and not (kind == "zip" and is_bundle(source)):
        from kerasport.api import inspect_file

        kf = read_keras_file(source)
        try:
            return from_keras_spec(kf.spec, inspect_file(source).rows, graph)
        finally:
            kf.close()
    if graph is None:
        raise KerasportError(f"{source}: no layer graph to draw")
    return from_graph(graph)


def _inputs(model: Any, calibration: str | None,
            samples: int) -> tuple[list[np.ndarray], list[np.ndarray] | None, str]:
    if calibration:
        from kerasport.quantize.calibration import load_calibration

        arrays = load_calibration(calibration, model, limit=max(samples, 1))
        return ([a[:samples] for a in arrays], arrays,
                f"the first {min(samples, len(arrays[0]))} samples of "
                f"{os.path.basename(calibration)}")
    draws = [model.make_reference(seed).inputs for seed in range(max(1, samples // 2))]
    inputs = [np.concatenate(parts)[:samples] for parts in zip(*draws)]
    return inputs, None, f"{len(inputs[0])} random samples (no --calibration given)"


def build_report(source: str, targets: list[str] | None = None, calibration: str | None = None,
                 samples: int = REPORT_SAMPLES) -> Report:
    """Load ``source``, convert it to each of ``targets`` (names from ``TARGETS``; default
    ``DEFAULT_TARGETS``) and measure every layer's error against the float32 runtime on
    ``samples`` rows of ``calibration`` (or random inputs). A model with unsupported layers
    still gets its graph (those layers marked) and no measurements."""
    from kerasport.api import load
    from kerasport.errors import UnsupportedLayerError

    start = time.perf_counter()
    names = list(targets or DEFAULT_TARGETS)
    try:
        model = load(source)
    except UnsupportedLayerError as exc:
        layers = _layer_graph(source, None)
        why = str(exc).splitlines()[0] + " " + ", ".join(
            sorted({issue.layer for issue in exc.issues}))
        info = {"name": os.path.basename(source), "params": sum(x.params for x in layers.layers),
                "ops": 0, "layers": len(layers.layers), "size": os.path.getsize(source),
                "seconds": round(time.perf_counter() - start, 2)}
        return Report(os.path.basename(source), info, layers,
                      [TargetResult(n, False, note=why) for n in names], "no inputs: " + why)
    graph = model.graph
    layers = _layer_graph(source, graph)
    x, calibration_arrays, note = _inputs(model, calibration, samples)
    probes = sorted({layer.probe for layer in layers.layers
                     if layer.probe is not None and layer.probe in graph.values}
                    | set(graph.outputs))
    values = model.run_all(x)
    reference = {name: values[name] for name in probes if name in values}
    results = [measure(TARGETS[name], source, graph, x, reference, calibration,
                       calibration_arrays) for name in names]
    info = {"name": graph.name, "params": graph.num_params(), "ops": len(graph.nodes),
            "layers": len(layers.layers), "size": os.path.getsize(source),
            "seconds": round(time.perf_counter() - start, 2)}
    return Report(os.path.basename(source), info, layers, results, note)


def write_report(source: str, out: str, targets: list[str] | None = None,
                 calibration: str | None = None, samples: int = REPORT_SAMPLES) -> Report:
    """Build the report for ``source`` and write it to ``out`` as one HTML file (atomically)."""
    from kerasport.io import atomic_write
    from kerasport.report.html import render

    report = build_report(source, targets, calibration, samples)
    page = render(report.to_json())
    atomic_write(out, lambda tmp: _write_text(tmp, page))
    return report


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
