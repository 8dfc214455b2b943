"""What ``kerasport.convert`` is asked to do (``ConvertOptions``) and what it did
(``ConversionResult``): plain data shared by the API, the targets, the CLI and ``batch``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kerasport.errors import InputError, KerasportError
from kerasport.quantize.ranges import ESTIMATORS

TARGETS = ("bundle", "python", "onnx", "tflite", "edgetpu", "keras", "keras-code", "pytorch")
WEIGHT_MODES = ("float32", "float16", "int8")
QUANTIZE_MODES = ("none", "dynamic", "static", "float16", "int8", "uint8")
CONVERTERS = ("kerasport", "tensorflow")  # TFLite: kerasport's own writer or TF's converter
LSTM_FORMS = ("fused", "unrolled", "loop")  # TFLite writer: UNIDIRECTIONAL_SEQUENCE_LSTM,
# unrolled, or a WHILE loop (the default: the fastest in LiteRT, docs/tflite_lstm.md)
RANGE_ESTIMATORS = ESTIMATORS  # TFLite int8: activation range estimators
INT8_FALLBACKS = ("error", "float")

Floats = float | Sequence[float] | str | None


def _floats(value: Floats, what: str) -> tuple[float, ...] | None:
    """One number, a sequence of numbers or a comma-separated string, as a tuple."""
    if value is None:
        return None
    items = str(value).split(",") if isinstance(value, str) else (
        value if isinstance(value, Sequence) else [value])
    try:
        return tuple(float(v) for v in items)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--{what} expects a number or comma-separated numbers, got "
                         f"'{value}'") from exc


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--{what} expects an integer, got '{value}'") from exc


def _choice(value: str | None, choices: Sequence[str], what: str) -> None:
    if value is not None and value not in choices:
        raise InputError(f"--{what} '{value}' is not one of {', '.join(choices)}")


def _delegation(rest: dict[str, Any]) -> None:
    """Normalise the options of a delegated source in place (strings from a command line)."""
    from kerasport.conversion.delegated import parse_names, parse_shape

    rest["input_shape"] = parse_shape(rest.get("input_shape"))
    rest["input_nodes"] = parse_names(rest.get("input_nodes"), "input-nodes")
    rest["output_nodes"] = parse_names(rest.get("output_nodes"), "output-nodes")


@dataclass(frozen=True)
class ConvertOptions:
    """The options of one conversion, checked and normalised on creation; the fields are the
    keyword arguments of ``kerasport.convert`` (and the ``kerasport convert`` flags)."""

    to: str = "bundle"
    weights: str = "float32"
    opset: int = 17
    batch_size: int | None = None
    inputs_as_nchw: bool = False
    quantize: str | None = None
    calibration: str | None = None
    labels: str | None = None
    scale: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    io_type: str | None = None
    allow_tf_ops: bool = False
    calibration_samples: int = 500
    weights_file: str | None = None
    converter: str | None = None
    tflite_lstm: str = "loop"
    range_estimator: str = "minmax"
    int8_fallback: str = "error"
    input_shape: tuple[int, ...] | None = None  # delegated sources (conversion/delegated.py)
    network_name: str | None = None
    input_nodes: tuple[str, ...] | None = None
    output_nodes: tuple[str, ...] | None = None

    @classmethod
    def create(cls, to: str = "bundle", *, weights: str = "float32", opset: int = 17,
               batch_size: int | str | None = None, mean: Floats = None, std: Floats = None,
               scale: float | str | None = None, calibration_samples: int | str | None = 500,
               **rest: Any) -> ConvertOptions:
        """Options from loosely typed values (strings from a command line or a batch file):
        ``batch_size`` may be "dynamic", ``mean``/``std`` "0.5,0.5,0.5"."""
        _choice(to, TARGETS, "to")
        _choice(weights, WEIGHT_MODES, "weights")
        _choice(rest.get("quantize"), QUANTIZE_MODES, "quantize")
        _choice(rest.get("converter"), CONVERTERS, "converter")
        _choice(rest.get("tflite_lstm"), LSTM_FORMS, "tflite-lstm")
        _choice(rest.get("range_estimator"), RANGE_ESTIMATORS, "range-estimator")
        _choice(rest.get("int8_fallback"), INT8_FALLBACKS, "int8-fallback")
        batch = None if batch_size in (None, "dynamic") else _int(batch_size, "batch-size")
        _delegation(rest)
        try:
            scale = None if scale is None else float(scale)
        except (TypeError, ValueError) as exc:
            raise InputError(f"--scale expects a number, got '{scale}'") from exc
        return cls(to, weights, _int(opset, "opset"), batch, mean=_floats(mean, "mean"),
                   std=_floats(std, "std"), scale=scale,
                   calibration_samples=_int(calibration_samples or 500,
                                            "calibration-samples"), **rest)

    def image_options(self) -> Any:
        """The calibration images' scaling (defaults: pixels / 255)."""
        from kerasport.quantize.calibration import ImageOptions

        default = ImageOptions()
        return ImageOptions(default.scale if self.scale is None else self.scale,
                            self.mean or default.mean, self.std or default.std)


@dataclass
class ConversionResult:
    """What ``kerasport.convert`` wrote and how the written model compares with the source.

    ``output`` is the file (or, for ``to="python"``, the directory) written and ``files``
    every file in it; ``size`` counts the bytes of the model file (for python: the weights
    file). ``error`` is the check's max relative error when one ran (bundle: verify;
    onnx: ONNX Runtime vs kerasport; tflite: LiteRT vs kerasport), ``metric`` the same in
    a few words for summary tables, ``lines`` the report ``kerasport convert`` prints, and
    ``report`` the target's own report object (``TFLiteReport`` for tflite/edgetpu).
    """

    source: str
    target: str
    output: str
    files: list[str]
    size: int
    source_size: int
    seconds: float
    lines: list[str] = field(default_factory=list)
    metric: str = ""
    error: float | None = None
    report: Any = None

    @property
    def total_size(self) -> int:
        """Bytes of every file written."""
        return sum(os.path.getsize(f) for f in self.files if os.path.exists(f))


def default_output(source: str, target: str, output: str | None = None) -> str:
    """Where ``kerasport convert`` writes when no output is given: next to the model (for
    python, a ``<name>_standalone`` folder in the working directory); refuses the input."""
    if not output:
        source = os.path.normpath(source)  # a SavedModel directory may end in a slash
        stem = os.path.splitext(source)[0]
        if target == "python":
            output = os.path.splitext(os.path.basename(source))[0] + "_standalone"
        elif target == "pytorch":
            output = os.path.splitext(os.path.basename(source))[0] + "_pytorch"
        elif target == "onnx":
            output = stem + ".onnx"
        elif target in ("tflite", "edgetpu"):
            output = stem + ".tflite"
        elif target == "keras":
            output = stem + "_keras3.keras"
        elif target == "keras-code":
            output = os.path.splitext(os.path.basename(source))[0] + "_keras_code"
        else:
            output = stem + ".npz"
    if os.path.abspath(output) == os.path.abspath(source):
        raise KerasportError(f"refusing to overwrite the input file {source}")
    return output
