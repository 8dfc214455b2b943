"""``kerasport.convert(..., to="pytorch")``: an ``nn.Module`` .py file and its weights in a
folder, checked in torch (in a worker process) against the NumPy runtime before the folder
appears."""

from __future__ import annotations

import os
import time
from typing import Any

from kerasport.conversion.options import ConversionResult, ConvertOptions
from kerasport.errors import InputError, VerificationError
from kerasport.io import staged_directory

# torch float32 vs the NumPy runtime: relative to max(1, |output|)
TOLERANCE = 1e-4


def to_pytorch(model: Any, source: str, out: str, options: ConvertOptions,
               start: float) -> ConversionResult:
    """Write ``model.py``, ``model.safetensors`` and ``reference.npz`` into the folder ``out``.
    The graph is read again unoptimized (one torch layer per Keras layer, BatchNormalization
    kept as its own layer); it is refused by op and layer before anything is written if an op
    has no PyTorch form."""
    from kerasport.api import load
    from kerasport.export.pytorch import export_pytorch, generate
    from kerasport.export.pytorch.check import check_module

    if options.weights != "float32" or options.quantize not in (None, "none"):
        raise InputError("--to pytorch writes float32 weights: --weights and --quantize do not "
                         "apply (convert the module's dtype in torch: model.half())")
    if "source_format" in model.meta:  # a model file, not a bundle: keep every layer
        model = load(source, optimize_graph=False, weights=options.weights_file)
    generate(model.graph, source)  # refuse before creating anything
    reference = model.reference or model.make_reference()
    with staged_directory(out) as tmp:
        py_tmp, w_tmp = export_pytorch(model, tmp, reference=reference)
        err, line = check_module(py_tmp, reference.inputs, reference.outputs)
        if err is not None and err > TOLERANCE:
            raise VerificationError(f"the PyTorch module differs from kerasport's outputs by "
                                    f"{err:.2e} (> {TOLERANCE:g}); nothing written to {out}")
        size = os.path.getsize(w_tmp)
    py_path = os.path.join(out, os.path.basename(py_tmp))
    w_path = os.path.join(out, os.path.basename(w_tmp))
    ref_path = os.path.join(out, "reference.npz")
    elapsed = time.perf_counter() - start
    original = os.path.getsize(source)
    lines = [f"wrote {py_path} and {w_path} ({size / 1e6:.2f} MB, "
             f"{model.graph.num_params():,} parameters) in {elapsed:.2f} s", line,
             f"load it: from model import load_model  (python {py_path}: self-check)"]
    metric = "" if err is None else f"torch error {err:.1e}"
    return ConversionResult(source, "pytorch", out, [py_path, w_path, ref_path], size,
                            original, elapsed, lines, metric, err)
