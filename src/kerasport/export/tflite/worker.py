"""Run TensorFlow's converter in a child process: a crash (TensorFlow's converter can
segfault, e.g. on full-integer quantization of recurrent layers) becomes an error message,
and the calling process never imports TensorFlow. ``convert_keras_file`` is the calling side.

``python -m kerasport.export.tflite.worker`` reads job directories from stdin, one a line:
``JOB/job.json`` and the calibration arrays ``JOB/calib<i>.npy``; it writes
``JOB/model.tflite`` or ``JOB/error.json`` and answers ``done``. It imports TensorFlow once
and serves jobs until its input closes.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import tempfile
from dataclasses import asdict
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, MissingExtraError
from kerasport.export._worker import JobWorker
from kerasport.export.tflite._deps import require_tensorflow
from kerasport.export.tflite.job import ModelInfo, TFLiteConversionError
from kerasport.export.tflite.options import TFLiteOptions

ERRORS = {"MissingExtraError": MissingExtraError, "TFLiteConversionError": TFLiteConversionError}


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


_WORKER = JobWorker("kerasport.export.tflite.worker", keras_backend="tensorflow")
atexit.register(_WORKER.close)


def run_worker(path: str, info: ModelInfo, options: TFLiteOptions,
               calibration: list[np.ndarray] | None) -> bytes:
    """Convert ``path`` in the worker process and return the TFLite flatbuffer."""
    with tempfile.TemporaryDirectory(prefix="kerasport-tflite-") as job:
        for i, a in enumerate(calibration or []):
            np.save(os.path.join(job, f"calib{i}.npy"), a)
        with open(os.path.join(job, "job.json"), "w", encoding="utf-8") as f:
            json.dump({"source": os.path.abspath(path), "info": asdict(info),
                       "options": asdict(options), "n_calibration": len(calibration or [])},
                      f)
        code = _WORKER.run(job)
        error_file = os.path.join(job, "error.json")
        if os.path.exists(error_file):
            with open(error_file, encoding="utf-8") as f:
                err = json.load(f)
            raise ERRORS.get(err["type"], KerasportError)(err["message"])
        out = os.path.join(job, "model.tflite")
        if code is not None or not os.path.exists(out):
            code = 0 if code is None else code
            how = (f"crashed ({_signal_name(code)})" if code < 0
                   else f"failed (exit {code})")
            hint = ""
            if options.quantize in ("int8", "uint8"):
                hint = ("; TensorFlow's full-integer quantizer is known to crash on some "
                        "layers (recurrent ones among them): try --quantize dynamic")
            raise TFLiteConversionError(f"TensorFlow's converter {how} while converting "
                                        f"{path} ({options.label}){hint}")
        with open(out, "rb") as f:
            return f.read()


def convert_keras_file(path: str, model: Any, options: TFLiteOptions,
                       calibration: list[np.ndarray] | None = None) -> bytes:
    """The TFLite flatbuffer of the Keras file ``path`` (already loaded by kerasport as
    ``model``, which refused unsupported layers and names the inputs). TensorFlow runs in a
    worker process, so that a crash of its converter becomes an error message."""
    if options.needs_calibration and not calibration:
        raise KerasportError(f"--quantize {options.quantize} (full integer) needs "
                             "representative data: --calibration DATA (.npy/.npz, a folder of "
                             "images, or a .py file defining get_dataset())")
    from kerasport.bundle import is_bundle
    from kerasport.keras.files import sniff

    if sniff(path) == "zip" and is_bundle(path):
        raise KerasportError(f"{path} is a kerasport bundle: TFLite export needs the original "
                             ".keras/.h5 file (a bundle holds no Keras model to hand to "
                             "TensorFlow's converter)")

    require_tensorflow()
    return run_worker(path, ModelInfo.from_model(model), options, calibration)


def convert_job(job: str) -> None:
    """The child's side of one job: convert, write the file or the error."""
    from kerasport.export.tflite.convert import convert_in_process

    with open(os.path.join(job, "job.json"), encoding="utf-8") as f:
        spec = json.load(f)
    calibration = [np.load(os.path.join(job, f"calib{i}.npy"), allow_pickle=False)
                   for i in range(spec["n_calibration"])] or None
    try:
        content = convert_in_process(spec["source"], ModelInfo(**spec["info"]),
                                     TFLiteOptions(**spec["options"]), calibration)
    except KerasportError as exc:
        with open(os.path.join(job, "error.json"), "w", encoding="utf-8") as f:
            json.dump({"type": type(exc).__name__, "message": str(exc)}, f)
        return
    with open(os.path.join(job, "model.tflite"), "wb") as f:
        f.write(content)


def main() -> int:
    """Serve jobs read from stdin, one directory per line; answer ``done`` on stdout."""
    answers = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # anything TensorFlow prints must not mix with the answers
    sys.stdout = sys.stderr
    for line in sys.stdin:
        job = line.strip()
        if not job:
            continue
        convert_job(job)
        _clear_session()
        answers.write("done\n")
        answers.flush()
    return 0


def _clear_session() -> None:
    for name in ("keras", "tf_keras"):
        module = sys.modules.get(name)
        if module is not None:
            try:
                module.backend.clear_session()
            except Exception:  # best effort: only frees memory between jobs
                pass


if __name__ == "__main__":
    sys.exit(main())
