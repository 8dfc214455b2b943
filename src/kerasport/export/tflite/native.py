"""``--to tflite`` through kerasport's own writer (no TensorFlow): write the flatbuffer from the
IR, run it in LiteRT against kerasport's runtime, then put the file in place.

A float32 file that disagrees with the runtime beyond ``FLOAT32_TOLERANCE`` is a writer bug
and is not written. Without LiteRT the file is still written, with a note naming the extra.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, MissingExtraError
from kerasport.export.tflite.options import TFLiteOptions

FLOAT32_TOLERANCE = 1e-4  # max |tflite - runtime| / max(1, |runtime|) for float32 files


def export_tflite_native(out: str, model: Any, options: TFLiteOptions | None = None,
                         calibration: list[np.ndarray] | None = None,
                         labels: np.ndarray | None = None, source_size: int | None = None,
                         lstm: str = "loop") -> Any:
    """Write ``model`` (a kerasport Model: any format kerasport reads) as a TFLite file
    ``out`` with kerasport's writer; returns a ``TFLiteReport``. ``options.quantize`` may be
    none, float16 or dynamic; ``lstm`` "loop", "fused" or "unrolled" (see ``writer.build``)."""
    from kerasport.export.tflite import TFLiteReport, reference_inputs
    from kerasport.export.tflite.check import FlexUnavailable, compare
    from kerasport.export.tflite.convert import quiet_stderr
    from kerasport.export.tflite.writer import write_tflite
    from kerasport.io import staged_output

    options = options or TFLiteOptions()
    if options.needs_calibration:
        raise KerasportError(f"kerasport's TFLite writer does not do full-integer "
                             f"quantization (--quantize {options.quantize}) yet: use "
                             "--converter tensorflow")
    notes: list[str] = []
    start = time.perf_counter()
    content = write_tflite(model, options.quantize, options.batch_size, lstm, notes)
    seconds = time.perf_counter() - start
    inputs = calibration if calibration else reference_inputs(model)
    check = None
    try:
        with quiet_stderr():  # LiteRT announces its XNNPACK delegate on stderr
            check = compare(content, model, inputs, labels if calibration else None)
    except (MissingExtraError, FlexUnavailable) as exc:
        notes.append(f"written but not checked: {exc}")
    if (check is not None and options.quantize == "none"
            and not check.max_error <= FLOAT32_TOLERANCE):
        raise KerasportError(f"the TFLite file written for {out} differs from kerasport's "
                             f"runtime by {check.max_error:.2e} (more than "
                             f"{FLOAT32_TOLERANCE:g}): nothing was written; please report "
                             "this, and use --converter tensorflow meanwhile")
    with staged_output(out) as tmp:
        with open(tmp, "wb") as f:
            f.write(content)
    return TFLiteReport(out, options, len(content), source_size or len(content), seconds,
                        check, "calibration" if calibration else "random", "; ".join(notes),
                        "kerasport")
