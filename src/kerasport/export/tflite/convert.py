"""Keras file -> SavedModel -> TFLite flatbuffer, through TensorFlow's converter.

The original Keras file is loaded with the Keras that wrote it (Keras 3, or ``tf_keras`` for
Keras 2 files), exported as a SavedModel and converted with
``tf.lite.TFLiteConverter.from_saved_model``: the path that works for Keras 3.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from kerasport.export.tflite._deps import import_keras, import_tensorflow
from kerasport.export.tflite.job import ModelInfo, TFLiteConversionError
from kerasport.export.tflite.options import FULL_INT_MODES, TFLiteOptions


@contextlib.contextmanager
def quiet_stderr() -> Iterator[IO[str]]:
    """Silence TensorFlow's C++ logging (written to file descriptor 2) inside the block.
    Yields a stream that still reaches the user's stderr, for progress lines."""
    try:
        fd_ok = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        fd_ok = False
    if not fd_ok:  # stderr is captured by Python (pytest, a notebook): leave fd 2 alone
        yield sys.stderr
        return
    sys.stderr.flush()
    saved = os.dup(2)
    stream = os.fdopen(os.dup(saved), "w")
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield stream
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            stream.close()


def load_keras_model(path: str, major: int) -> Any:
    """The model in ``path``, loaded by the Keras that wrote it (without compiling)."""
    keras = import_keras(major)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return keras.models.load_model(path, compile=False)
        except Exception as exc:
            raise TFLiteConversionError(f"Keras {major} cannot load {path}: {exc}") from exc


def _specs(tf: Any, info: ModelInfo, batch_size: int | None) -> list[Any]:
    return [tf.TensorSpec((batch_size, *shape[1:]), tf.as_dtype(dtype), name=name)
            for name, shape, dtype in zip(info.input_names, info.input_shapes,
                                          info.input_dtypes)]


def export_saved_model(keras_model: Any, info: ModelInfo, directory: str,
                       batch_size: int | None = None) -> None:
    """Write ``keras_model`` as a SavedModel with a ``serving_default`` signature whose
    inputs are named like the Keras inputs and outputs ``output_0``, ``output_1``..."""
    tf = import_tensorflow()
    specs = _specs(tf, info, batch_size)
    if info.keras_major >= 3:
        signature = None
        if batch_size is not None:
            signature = [specs[0]] if len(specs) == 1 else [specs]
        keras_model.export(directory, format="tf_saved_model", verbose=False,
                           input_signature=signature)
        return

    @tf.function(input_signature=specs)
    def serve(*xs: Any) -> dict[str, Any]:
        y = keras_model(list(xs) if len(xs) > 1 else xs[0], training=False)
        ys = list(y.values()) if isinstance(y, dict) else (
            list(y) if isinstance(y, (list, tuple)) else [y])
        return {f"output_{i}": t for i, t in enumerate(ys)}

    holder = tf.Module()
    holder.weights = list(keras_model.variables)  # track the variables, not Keras' layers
    tf.saved_model.save(holder, directory,
                        signatures={"serving_default": serve.get_concrete_function()})


def _representative(calibration: list[np.ndarray], names: list[str], dtypes: list[str],
                    limit: int, stream: IO[str]) -> Any:
    from kerasport.quantize.calibration import Progress

    n = min(limit, calibration[0].shape[0])

    def samples() -> Iterator[dict[str, np.ndarray]]:
        progress = Progress(n, "calibrating", stream=stream)
        for i in range(n):
            progress.update(i + 1)
            yield {name: a[i:i + 1].astype(dtype)  # token inputs stay integers
                   for name, dtype, a in zip(names, dtypes, calibration)}
        progress.done()

    return samples


def _converter(tf: Any, directory: str, options: TFLiteOptions, info: ModelInfo,
               calibration: list[np.ndarray] | None, stream: IO[str]) -> Any:
    conv = tf.lite.TFLiteConverter.from_saved_model(directory)
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    if options.quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.quantize == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if options.quantize in FULL_INT_MODES:
        assert calibration is not None  # checked by worker.convert_keras_file
        conv.representative_dataset = _representative(
            calibration, info.input_names, info.input_dtypes, options.calibration_samples,
            stream)
        builtins = tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[
            options.resolved_io_type]
        conv.inference_input_type = io
        conv.inference_output_type = io
    ops = [builtins]
    if options.allow_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    conv.target_spec.supported_ops = ops
    return conv


def explain_converter_error(message: str, layer_names: list[str]) -> str:
    """A short explanation of a converter failure: the TF ops at fault and the Keras layers
    they come from, with the option that helps."""
    flex = re.findall(r"TF Select ops: ([^\n]+)", message)
    custom = re.findall(r"Custom ops: ([^\n]+)", message)
    ops = sorted({o.strip() for line in flex + custom for o in line.split(",") if o.strip()})
    layers: list[str] = []
    known = set(layer_names)
    for op_name, scope in re.findall(r'fused\["(\w+):", "([^"@]+)@', message):
        if ops and op_name not in ops:
            continue
        parts = scope.split("/")
        hit = [p for p in parts if p in known] or parts[:-1][-1:]
        for p in hit:
            if p not in layers:
                layers.append(p)
    where = f" (in layer{'s' if len(layers) > 1 else ''} {', '.join(layers)})" if layers else ""
    if flex:
        return (f"the model needs TensorFlow ops that TFLite has no builtin kernel for: "
                f"{', '.join(ops)}{where}. Re-run with --allow-tf-ops to keep them as Flex "
                "(SELECT_TF_OPS) ops; the interpreter on the device must then link the Flex "
                "delegate (tensorflow-lite-select-tf-ops)")
    if custom:
        return (f"the model needs ops that neither TFLite nor its Flex delegate have: "
                f"{', '.join(ops)}{where}")
    if "quantiz" in message.lower():
        first = next((ln for ln in message.splitlines() if "error" in ln.lower()), "")
        return f"full integer quantization failed{where}: {first.strip()[:300]}"
    lines = [ln for ln in message.splitlines() if "error" in ln.lower()][:3]
    return "TensorFlow's converter failed: " + ("\n".join(lines) or message[:500])


def convert_in_process(path: str, info: ModelInfo, options: TFLiteOptions,
                       calibration: list[np.ndarray] | None = None) -> bytes:
    """The TFLite flatbuffer of the Keras file ``path``, converted in this process (imports
    TensorFlow; a crash of TensorFlow's converter takes the process down)."""
    major = info.keras_major
    with quiet_stderr() as stream, tempfile.TemporaryDirectory() as work:
        keras_model = load_keras_model(path, major)
        saved = os.path.join(work, "saved_model")
        try:
            export_saved_model(keras_model, info, saved, options.batch_size)
        except Exception as exc:
            raise TFLiteConversionError(f"exporting a SavedModel from Keras {major} failed: "
                                        f"{exc}") from exc
        return convert_saved_model(saved, info, options, calibration, stream)


def convert_saved_model(directory: str, info: ModelInfo, options: TFLiteOptions,
                        calibration: list[np.ndarray] | None = None,
                        stream: IO[str] | None = None) -> bytes:
    """Run ``TFLiteConverter.from_saved_model`` on ``directory`` with ``options``; a failure
    raises TFLiteConversionError naming the TF ops and layers at fault."""
    tf = import_tensorflow()
    conv = _converter(tf, directory, options, info, calibration, stream or sys.stderr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return conv.convert()
    except Exception as exc:
        raise TFLiteConversionError(explain_converter_error(str(exc), info.layer_names)) \
            from exc
