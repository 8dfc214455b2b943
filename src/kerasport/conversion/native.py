"""``kerasport.convert`` to kerasport's own forms: a bundle (.npz) or standalone Python."""

from __future__ import annotations

import os
import time
from typing import Any

from kerasport.conversion.options import ConversionResult, ConvertOptions
from kerasport.io import staged_directory, staged_output


def to_bundle(model: Any, source: str, out: str, options: ConvertOptions,
              start: float) -> ConversionResult:
    """Write the bundle beside ``out``, load it back and verify it there; it appears at
    ``out`` only once it passed."""
    from kerasport.api import load

    weights = options.weights
    with staged_output(out) as tmp:
        model.save(tmp, weights=weights)
        size = os.path.getsize(tmp)
        bundle = load(tmp)
        err = bundle.verify()
    elapsed = time.perf_counter() - start
    original = os.path.getsize(source)
    lossy = bundle.meta.get("weights_error_vs_float32")
    lines = [f"wrote {out} ({size / 1e6:.2f} MB = {size / original:.0%} of {source}, "
             f"{weights} weights, {model.graph.num_params():,} parameters, "
             f"{len(model.graph.nodes)} ops) in {elapsed:.2f} s",
             f"reference input recorded; verify: max relative error {err:.2e}"
             + (f"; {weights} weights vs float32: {lossy:.2e}" if lossy is not None else "")]
    metric = (f"verify error {err:.1e}" if lossy is None
              else f"{weights} vs float32 error {lossy:.1e}")
    return ConversionResult(source, "bundle", out, [out], size, original, elapsed, lines,
                            metric, float(err))


def to_python(model: Any, source: str, out: str, options: ConvertOptions,
              start: float) -> ConversionResult:
    """Write the standalone ``.py`` and its weights into a staged folder, renamed to
    ``out`` once both are complete."""
    from kerasport.export.python import export_python

    with staged_directory(out) as tmp:
        py_tmp, w_tmp = export_python(model, tmp, weights=options.weights)
        size = os.path.getsize(w_tmp)
    py_path = os.path.join(out, os.path.basename(py_tmp))
    w_path = os.path.join(out, os.path.basename(w_tmp))
    elapsed = time.perf_counter() - start
    original = os.path.getsize(source)
    lines = [f"wrote {py_path} and {w_path} ({size / 1e6:.2f} MB = {size / original:.0%} of "
             f"{source}, {options.weights} weights) in {elapsed:.2f} s",
             f"run it with numpy only: python {py_path}  (self-check)"]
    return ConversionResult(source, "python", out, [py_path, w_path], size, original, elapsed,
                            lines)
