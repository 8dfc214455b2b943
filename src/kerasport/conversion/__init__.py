"""``kerasport.convert``: one conversion, as ``kerasport convert`` and ``kerasport batch``
run it — load, write beside the target, check, rename, report.

    >>> result = kerasport.convert("model.keras", "model.onnx", to="onnx")
    >>> result.output, result.size, result.error
"""

from __future__ import annotations

import os
import time
from typing import Any

from kerasport.conversion.options import (
    QUANTIZE_MODES,
    TARGETS,
    WEIGHT_MODES,
    ConversionResult,
    ConvertOptions,
    default_output,
)
from kerasport.errors import InputError

__all__ = ["QUANTIZE_MODES", "TARGETS", "WEIGHT_MODES", "ConversionResult", "ConvertOptions",
           "convert", "convert_with", "default_output"]


def convert(source: str, output: str | None = None, *, to: str = "bundle",
            weights: str = "float32", opset: int = 17, batch_size: int | str | None = None,
            inputs_as_nchw: bool = False, quantize: str | None = None,
            calibration: str | None = None, labels: str | None = None,
            scale: float | None = None, mean: float | tuple[float, ...] | str | None = None,
            std: float | tuple[float, ...] | str | None = None, io_type: str | None = None,
            allow_tf_ops: bool = False, calibration_samples: int = 500,
            weights_file: str | None = None, converter: str | None = None,
            tflite_lstm: str = "loop", range_estimator: str = "minmax",
            int8_fallback: str = "error", input_shape: Any = None,
            network_name: str | None = None, input_nodes: Any = None,
            output_nodes: Any = None) -> ConversionResult:
    """Convert the model file ``source`` to ``to`` and return what was written and checked.

    ``to``: ``bundle`` (one .npz for kerasport, ``weights`` float32/float16/int8),
    ``python`` (a folder with a numpy-only .py and its weights), ``onnx`` (``opset``,
    ``batch_size`` N or None/"dynamic", ``inputs_as_nchw``, ``quantize`` dynamic/static with
    ``calibration`` data), ``tflite`` / ``edgetpu`` (``quantize`` none/float16/dynamic/int8/
    uint8, ``calibration`` and its ``labels``, ``io_type``, ``allow_tf_ops``,
    ``calibration_samples``; ``converter`` "kerasport" (its own writer, the default) or
    "tensorflow"; ``tflite_lstm`` "loop" (default), "fused" or "unrolled"; full int8 by kerasport:
    ``range_estimator`` minmax/percentile/mse, ``int8_fallback`` error/float for layers
    without an int8 kernel). PyTorch and TensorFlow sources (a TorchScript .pt, a network
    script .py with ``network_name``, a SavedModel without Keras metadata, a frozen .pb or a
    checkpoint .meta with ``input_nodes``/``output_nodes``) are exported to ONNX by their
    framework in a worker at ``input_shape`` (see kerasport.delegate).
    ``scale``/``mean``/``std`` scale calibration images.
    ``output`` defaults to a path next to ``source``. ``weights_file``: weights kept apart
    from the architecture in ``source`` (see ``kerasport.load``'s ``weights``).

    Outputs are written beside the target and renamed only after every check passed: on an
    error (a ``KerasportError``) nothing is left at ``output``. Nothing is printed; the
    result's ``lines`` hold the report ``kerasport convert`` prints.
    """
    options = ConvertOptions.create(
        to, weights=weights, opset=opset, batch_size=batch_size, scale=scale, mean=mean,
        std=std, calibration_samples=calibration_samples, inputs_as_nchw=inputs_as_nchw,
        quantize=quantize, calibration=calibration, labels=labels, io_type=io_type,
        allow_tf_ops=allow_tf_ops, weights_file=weights_file, converter=converter,
        tflite_lstm=tflite_lstm, range_estimator=range_estimator, int8_fallback=int8_fallback,
        input_shape=input_shape, network_name=network_name, input_nodes=input_nodes,
        output_nodes=output_nodes)
    return convert_with(source, output, options)


def _tflite_needs_a_model_file(source: str, options: ConvertOptions) -> None:
    """TensorFlow's converter (``--converter tensorflow``) loads the original file in Keras:
    only a .keras/.h5 model file will do (kerasport's own writer takes any source)."""
    from kerasport.keras.files import sniff

    if options.converter != "tensorflow":
        return
    if options.weights_file or not os.path.isfile(source) or sniff(source) not in (
            "zip", "hdf5"):
        raise InputError(f"{source}: --converter tensorflow hands the original .keras/.h5 "
                         "file to TensorFlow's converter, and this model is stored in another "
                         "form (SavedModel, JSON + weights, TF.js, ONNX); use kerasport's own "
                         "writer (the default)")


def convert_with(source: str | os.PathLike, output: str | os.PathLike | None,
                 options: ConvertOptions) -> ConversionResult:
    """``convert`` with its options already gathered in a ``ConvertOptions`` (paths may be
    ``str`` or ``os.PathLike``)."""
    from kerasport.conversion.delegated import load_source, source_line

    source = os.fspath(source)
    output = None if output is None else os.fspath(output)
    out = default_output(source, options.to, output)
    if options.to in ("tflite", "edgetpu"):
        _tflite_needs_a_model_file(source, options)
    start = time.perf_counter()
    model = load_source(source, options)
    if options.to == "python":
        from kerasport.conversion.native import to_python as run
    elif options.to == "onnx":
        from kerasport.conversion.onnx import to_onnx as run
    elif options.to in ("tflite", "edgetpu"):
        from kerasport.conversion.tflite import to_tflite as run
    elif options.to in ("keras", "keras-code"):
        from kerasport.conversion.keras import to_keras as run
    elif options.to == "pytorch":
        from kerasport.conversion.pytorch import to_pytorch as run
    else:
        from kerasport.conversion.native import to_bundle as run
    result = run(model, source, out, options, start)
    line = source_line(model)
    if line:
        result.lines.insert(0, line)
    return result
