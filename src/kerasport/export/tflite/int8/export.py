"""A full-integer .tflite file from a kerasport model and calibration data, without
TensorFlow: ranges from the NumPy runtime, the writer's float32 graph, the int8 pass."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasport.errors import MissingExtraError
from kerasport.export.tflite.int8 import Int8Summary, full_integer, prune
from kerasport.export.tflite.int8.observe import float_file_ranges, missing_ranges
from kerasport.quantize.ranges import DEFAULT_PERCENTILE
from kerasport.runtime.calibrate import calibrate_ranges


@dataclass
class Int8File:
    """The bytes of a full-integer file and how it was made."""

    content: bytes
    summary: Int8Summary
    estimator: str
    samples: int
    notes: list[str] = field(default_factory=list)  # the writer's (e.g. a fixed batch)

    def lines(self) -> list[str]:
        """What the report says about the quantization."""
        s = self.summary
        out = list(self.notes)
        out += [f"int8 activation ranges: {self.estimator} estimator over {self.samples} "
               f"calibration samples; {s.int8_ops} operators in int8"]
        if s.float_ops:
            kinds = list(dict.fromkeys(str(f) for f in s.float_ops))
            out.append(f"{len(s.float_ops)} operators left in float32 (--int8-fallback "
                       f"float): " + "; ".join(kinds[:8]) + (" ..." if len(kinds) > 8 else ""))
        return out


def write_int8(model: Any, calibration: Sequence[np.ndarray], io_type: str = "float32",
               estimator: str = "minmax", batch_size: int | None = None,
               allow_float: bool = False, percentile: float = DEFAULT_PERCENTILE,
               source: str = "given", lstm: str = "fused") -> Int8File:
    """The full-integer .tflite bytes of ``model`` (a kerasport Model): activation ranges of
    every value measured on ``calibration`` (one array per input) by ``estimator``
    (minmax, percentile, mse); int8 per-channel weights; I/O as ``io_type``. Layers without
    an int8 kernel are refused unless ``allow_float`` keeps them float32. ``source`` names
    the calibration data in messages; ``lstm`` is the writer's LSTM form (fused, unrolled;
    loop is written fused)."""
    from kerasport.export.tflite.check import unique_names
    from kerasport.export.tflite.writer import build
    from kerasport.export.tflite.writer.serialize import serialize

    ranges = calibrate_ranges(model.graph, calibration, estimator, percentile, source)
    # no int8 form of the WHILE loop yet: its LSTMs are written fused
    ctx, inputs, outputs = build(model, batch_size, "fused" if lstm == "loop" else lstm)
    inputs, outputs = prune(ctx, inputs, outputs)
    extra = _intermediate_ranges(ctx, inputs, outputs, ranges, calibration, estimator,
                                 percentile)
    ins, outs, summary = full_integer(ctx, inputs, outputs, ranges, io_type, allow_float,
                                      extra)
    content = serialize(ctx, ins, outs, list(model.input_names),
                        unique_names(list(model.graph.output_names or model.graph.outputs)))
    return Int8File(content, summary, estimator, int(np.asarray(calibration[0]).shape[0]),
                    list(getattr(ctx, "notes", [])))


def _intermediate_ranges(ctx: Any, inputs: list[int], outputs: list[int],
                         ranges: dict[str, tuple[float, float]],
                         calibration: Sequence[np.ndarray], estimator: str,
                         percentile: float) -> dict[int, tuple[float, float]]:
    """Ranges (by tensor index) of the float tensors the IR does not name, measured on the
    float32 file in LiteRT; empty when there are none or LiteRT is missing (then the pass
    bounds them from their inputs' ranges where it can)."""
    from kerasport.export.tflite.writer.serialize import serialize

    missing = missing_ranges(ctx, ranges)
    if not missing:
        return {}
    names = [str(t) for t in range(len(inputs))]
    content = serialize(ctx, inputs, outputs, names, [f"o{i}" for i in range(len(outputs))])
    try:
        found = float_file_ranges(content, calibration, {ctx.tensors[i].name for i in missing},
                                  estimator, percentile)
    except (ImportError, MissingExtraError):
        return {}
    return {i: found[ctx.tensors[i].name] for i in missing if ctx.tensors[i].name in found}


FALLBACKS = ("error", "float")


def export_int8(out: str, model: Any, options: Any, calibration: Sequence[np.ndarray] | None,
                labels: np.ndarray | None = None, source_size: int | None = None,
                lstm: str = "fused", estimator: str = "minmax", fallback: str = "error",
                edgetpu: bool = False) -> Any:
    """Write the full-integer file ``out`` for ``model`` with
    kerasport's own quantization (``options``: a TFLiteOptions in an int8/uint8 mode), run it
    in LiteRT against the NumPy runtime on the calibration data, then write it (nothing is
    written if a step fails). ``fallback="float"`` keeps layers without an int8 kernel in
    float32 (refused for ``edgetpu``). Returns a TFLiteReport."""
    from kerasport.errors import InputError, KerasportError, MissingExtraError
    from kerasport.export.tflite import TFLiteReport
    from kerasport.export.tflite.check import FlexUnavailable, compare
    from kerasport.export.tflite.convert import quiet_stderr
    from kerasport.io import staged_output

    if not calibration:
        raise InputError("full integer quantization needs representative data: give "
                         "--calibration (.npy, .npz, a folder of images or a .py file)")
    if fallback not in FALLBACKS:
        raise KerasportError(f"--int8-fallback '{fallback}' is not one of "
                             f"{', '.join(FALLBACKS)}")
    if edgetpu and fallback == "float":
        raise KerasportError("--to edgetpu runs every operator in int8: --int8-fallback "
                             "float (float32 layers) cannot be used with it")
    start = time.perf_counter()
    part = [a[:options.calibration_samples] for a in calibration]
    made = write_int8(model, part, options.resolved_io_type, estimator, options.batch_size,
                      fallback == "float", source="--calibration", lstm=lstm)
    seconds = time.perf_counter() - start
    notes = made.lines()
    check = None
    try:
        with quiet_stderr():
            check = compare(made.content, model, list(calibration), labels)
    except (MissingExtraError, FlexUnavailable) as exc:
        notes.append(f"written but not checked: {exc}")
    with staged_output(out) as tmp:
        with open(tmp, "wb") as f:
            f.write(made.content)
    return TFLiteReport(out, options, len(made.content), source_size or len(made.content),
                        seconds, check, "calibration", "; ".join(notes), "kerasport")
