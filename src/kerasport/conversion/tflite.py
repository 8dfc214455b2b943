"""``kerasport.convert(..., to="tflite"|"edgetpu")``: options to a checked TFLite file."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from kerasport.conversion.options import ConversionResult, ConvertOptions
from kerasport.errors import InputError, KerasportError


def tflite_options(options: ConvertOptions) -> Any:
    """TFLiteOptions for ``options`` (``to="edgetpu"`` means full int8, batch 1, uint8 I/O
    unless ``io_type`` says otherwise)."""
    from kerasport.export.tflite.options import TFLiteOptions

    edgetpu = options.to == "edgetpu"
    mode = options.quantize or ("int8" if edgetpu else "none")
    if edgetpu and mode not in ("int8", "uint8"):
        raise KerasportError(f"--to edgetpu needs full integer quantization (int8 or uint8), "
                             f"not '{mode}'")
    io_type = options.io_type
    if edgetpu and io_type is None and mode == "int8":
        io_type = "uint8"
    batch = 1 if edgetpu else options.batch_size
    return TFLiteOptions(mode, io_type, bool(options.allow_tf_ops), batch,
                         options.calibration_samples)


def resolve_converter(options: ConvertOptions, tfl: Any) -> str:
    """Which TFLite converter runs: the one asked for, else kerasport's writer (full integer
    included: ``export/tflite/int8``)."""
    return options.converter or "kerasport"


def _metric(report: Any) -> str:
    c = report.check
    if c is None:
        return "not run (Flex ops)"
    if c.accuracy is not None:
        return f"accuracy {c.accuracy:.2%}"
    if report.options.quantize in ("none", "float16") or c.top1_agreement is None:
        return f"max error {c.max_error:.1e}"
    return f"top-1 agreement {c.top1_agreement:.1%}"


def to_tflite(model: Any, source: str, out: str, options: ConvertOptions,
              start: float) -> ConversionResult:
    """Convert, check in LiteRT (the file is written only after the check); for
    ``to="edgetpu"`` also run the Edge TPU compiler when it is installed."""
    from kerasport.export.tflite import export_tflite
    from kerasport.export.tflite.edgetpu import compile_for_edgetpu
    from kerasport.quantize.calibration import load_calibration

    tfl = tflite_options(options)
    calibration = None
    if options.calibration:
        calibration = load_calibration(options.calibration, model,
                                       images=options.image_options())
    labels = None
    if options.labels:
        if calibration is None:
            raise InputError("--labels are the classes of the --calibration samples: give "
                             "--calibration too")
        if not os.path.exists(options.labels):
            raise InputError(f"labels {options.labels}: no such file")
        labels = np.load(options.labels, allow_pickle=False)
    size = os.path.getsize(source) if os.path.isfile(source) else None
    if resolve_converter(options, tfl) == "kerasport" and tfl.needs_calibration:
        from kerasport.export.tflite.int8.export import export_int8

        report = export_int8(out, model, tfl, calibration, labels, size, options.tflite_lstm,
                             options.range_estimator, options.int8_fallback,
                             options.to == "edgetpu")
    elif resolve_converter(options, tfl) == "kerasport":
        from kerasport.export.tflite.native import export_tflite_native

        report = export_tflite_native(out, model, tfl, calibration, labels, size,
                                      options.tflite_lstm)
    else:
        report = export_tflite(source, out, model, tfl, calibration, labels)
    lines = report.lines()
    files = [out]
    if options.to == "edgetpu":
        compiled, message = compile_for_edgetpu(out)
        lines.append(message)
        files += [compiled] if compiled else []
    return ConversionResult(source, options.to, out, files, report.size, report.source_size,
                            time.perf_counter() - start, lines, _metric(report),
                            None if report.check is None else float(report.check.max_error),
                            report)
