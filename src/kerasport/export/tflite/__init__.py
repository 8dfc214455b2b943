"""TFLite export, checked in LiteRT against kerasport's float reference: through kerasport's
own writer (``writer/``, ``native.py``; extra ``kerasport[tflite]``, no TensorFlow) or through
TensorFlow's converter (this module's ``export_tflite``; extra ``kerasport[tflite-tf]``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from kerasport.export.tflite._deps import litert_interpreter_class
from kerasport.export.tflite.check import FlexUnavailable, TFLiteCheck, compare
from kerasport.export.tflite.convert import quiet_stderr
from kerasport.export.tflite.job import TFLiteConversionError
from kerasport.export.tflite.options import IO_TYPES, QUANT_MODES, TFLiteOptions
from kerasport.io import atomic_write
from kerasport.ops import get_op

__all__ = ["IO_TYPES", "QUANT_MODES", "TFLiteCheck", "TFLiteConversionError", "TFLiteOptions",
           "TFLiteReport", "export_tflite", "reference_inputs"]


def needs_static_batch(graph: Any) -> list[str]:
    """Layers whose ops loop over time (the ``recurrent`` trait): TFLite needs a static batch
    for them."""
    return sorted({n.layer for n in graph.nodes if get_op(n.op).traits.recurrent})
RANDOM_SAMPLES = 32  # reference inputs drawn when no calibration data is given


@dataclass
class TFLiteReport:
    """What ``export_tflite`` wrote and how the file compares with the float reference."""

    path: str
    options: TFLiteOptions
    size: int
    source_size: int
    seconds: float
    check: TFLiteCheck | None  # None when the file could not be run here (Flex ops)
    reference: str  # where the compared inputs came from
    note: str = ""
    converter: str = "tensorflow"  # or "kerasport" (its own writer, export/tflite/native.py)

    def lines(self) -> list[str]:
        """The report printed by ``kerasport convert --to tflite``."""
        c, o = self.check, self.options
        out = [f"wrote {self.path} ({self.size / 1e6:.3f} MB = "
               f"{self.size / self.source_size:.0%} of the source file, {o.label}"
               f"{', Flex ops allowed' if o.allow_tf_ops else ''}"
               f"{f', batch {o.batch_size}' if o.batch_size else ''}) "
               + (f"in {self.seconds * 1e3:.0f} ms by kerasport's writer"
                  if self.converter == "kerasport" else f"in {self.seconds:.1f} s")]
        if self.note:
            out.append(f"note: {self.note}")
        if c is None:
            return out
        out.append(f"checked in {c.interpreter} on {c.n_samples} {self.reference} inputs "
                   f"against kerasport's float32 runtime:")
        if o.quantize in ("none", "float16"):
            out.append(f"  max error {c.max_error:.2e} (relative to max(1, |output|)), "
                       f"mean abs error {c.mean_abs_error:.2e}")
        else:
            out.append(f"  mean abs error {c.mean_abs_error:.2e}, max error {c.max_error:.2e}")
        if c.top1_agreement is not None:
            out.append(f"  same top-1 class as float32 on {c.top1_agreement:.1%}")
        if c.accuracy is not None and c.float_accuracy is not None:
            out.append(f"  accuracy {c.accuracy:.2%} (float32 {c.float_accuracy:.2%}, "
                       f"{100 * (c.accuracy - c.float_accuracy):+.2f} points)")
        out.append(f"  latency {c.latency_ms:.3f} ms per sample (median, 1 thread)")
        return out


def reference_inputs(model: Any, n: int = RANDOM_SAMPLES, seed: int = 0) -> list[np.ndarray]:
    """Random standard-normal inputs (free dims of size 8) when no data is given."""
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in zip(model.input_names, model.input_shapes):
        dims = [n] + [8 if d is None else int(d) for d in shape[1:]]
        dtype = np.dtype(model.graph.values[name].dtype)
        if dtype.kind in "iub":
            out.append(rng.integers(0, 2, size=dims).astype(dtype))
        else:
            out.append(rng.standard_normal(dims).astype(dtype))
    return out


def export_tflite(source: str, out: str, model: Any, options: TFLiteOptions | None = None,
                  calibration: list[np.ndarray] | None = None,
                  labels: np.ndarray | None = None) -> TFLiteReport:
    """Convert the Keras file ``source`` (loaded by kerasport as ``model``) to a TFLite file
    ``out``, run it in LiteRT and compare it with kerasport's runtime on ``calibration`` (or
    random inputs). Writes atomically; nothing is written if conversion or the check fails."""
    options = options or TFLiteOptions()
    litert_interpreter_class()  # fail before converting if LiteRT is missing
    note = ""
    recurrent = needs_static_batch(model.graph)
    if recurrent and options.batch_size is None:
        options = replace(options, batch_size=1)
        note = (f"batch fixed to 1: TFLite needs a static batch for recurrent layers "
                f"({', '.join(recurrent)})")
    # imported here: ``python -m ...worker`` (the child) imports this package first
    from kerasport.export.tflite.worker import convert_keras_file

    start = time.perf_counter()
    content = convert_keras_file(source, model, options, calibration)
    seconds = time.perf_counter() - start
    inputs = calibration if calibration else reference_inputs(model)
    check = None
    try:
        with quiet_stderr():  # LiteRT announces its XNNPACK delegate on stderr
            check = compare(content, model, inputs, labels if calibration else None)
    except FlexUnavailable as exc:
        note = "; ".join(filter(None, [note, f"not checked: {exc}"]))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(content)

    atomic_write(out, write)
    return TFLiteReport(out, options, len(content), os.path.getsize(source), seconds, check,
                        "calibration" if calibration else "random", note)
