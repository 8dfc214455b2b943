"""``kerasport convert --to tflite|edgetpu``: options from the command line to a report."""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from kerasport.errors import InputError, KerasportError


def _floats(text: str | None, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in str(text).split(","))
    except ValueError as exc:
        raise InputError(f"--{what} expects a number or comma-separated numbers, got "
                         f"'{text}'") from exc


def image_options(args: argparse.Namespace) -> Any:
    """The image scaling given by --scale/--mean/--std (defaults: pixels / 255)."""
    from kerasport.quantize.calibration import ImageOptions

    default = ImageOptions()
    scale = getattr(args, "scale", None)
    mean = _floats(getattr(args, "mean", None), "mean")
    std = _floats(getattr(args, "std", None), "std")
    return ImageOptions(default.scale if scale is None else float(scale),
                        mean or default.mean, std or default.std)


def options_from_args(args: argparse.Namespace) -> Any:
    """TFLiteOptions for ``args`` (``--to edgetpu`` means full int8, batch 1, uint8 I/O
    unless --io-type says otherwise)."""
    from kerasport.export.tflite.options import TFLiteOptions

    edgetpu = args.to == "edgetpu"
    mode = args.quantize or ("int8" if edgetpu else "none")
    if edgetpu and mode not in ("int8", "uint8"):
        raise KerasportError(f"--to edgetpu needs full integer quantization (int8 or uint8), "
                             f"not '{mode}'")
    io_type = args.io_type
    if edgetpu and io_type is None and mode == "int8":
        io_type = "uint8"
    batch = getattr(args, "batch_size", None)
    batch = None if batch in (None, "dynamic") else int(batch)
    if edgetpu:
        batch = 1
    return TFLiteOptions(mode, io_type, bool(args.allow_tf_ops), batch,
                         int(getattr(args, "calibration_samples", None) or 500))


def convert_tflite_cli(args: argparse.Namespace, model: Any, out: str) -> int:
    """Convert, check in LiteRT and print the report; for ``--to edgetpu`` also run the
    Edge TPU compiler when it is installed. Figures go to ``args.notes`` when it is a dict."""
    from kerasport.export.tflite import export_tflite
    from kerasport.export.tflite.edgetpu import compile_for_edgetpu
    from kerasport.quantize.calibration import load_calibration

    options = options_from_args(args)
    calibration = None
    if args.calibration:
        calibration = load_calibration(args.calibration, model, images=image_options(args))
    labels = None
    if getattr(args, "labels", None):
        if calibration is None:
            raise InputError("--labels are the classes of the --calibration samples: give "
                             "--calibration too")
        if not os.path.exists(args.labels):
            raise InputError(f"labels {args.labels}: no such file")
        labels = np.load(args.labels, allow_pickle=False)
    report = export_tflite(args.model, out, model, options, calibration, labels)
    for line in report.lines():
        print(line)
    c = report.check
    notes = getattr(args, "notes", None)
    if isinstance(notes, dict):
        if c is None:
            metric = "not run (Flex ops)"
        elif c.accuracy is not None:
            metric = f"accuracy {c.accuracy:.2%}"
        elif options.quantize in ("none", "float16") or c.top1_agreement is None:
            metric = f"max error {c.max_error:.1e}"
        else:
            metric = f"top-1 agreement {c.top1_agreement:.1%}"
        notes.update(output=out, metric=metric, report=report)
    if args.to == "edgetpu":
        _, message = compile_for_edgetpu(out)
        print(message)
    return 0
