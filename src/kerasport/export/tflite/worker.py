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
import subprocess
import sys
import tempfile
from dataclasses import asdict
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, MissingExtraError
from kerasport.export.tflite._deps import require_tensorflow
from kerasport.export.tflite.job import ModelInfo, TFLiteConversionError
from kerasport.export.tflite.options import TFLiteOptions

_SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 3))
ERRORS = {"MissingExtraError": MissingExtraError, "TFLiteConversionError": TFLiteConversionError}


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class _Worker:
    """One long-lived child process that converts jobs one after another (TensorFlow is
    imported once); replaced by a fresh one after a crash."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3",
                   KERAS_BACKEND="tensorflow")
        root = _SOURCE_ROOT  # the folder holding this kerasport package
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        return subprocess.Popen([sys.executable, "-m", "kerasport.export.tflite.worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=env)

    def run(self, job: str) -> int | None:
        """Hand ``job`` to the child; None when it finished, else the child's exit code."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            self.proc.stdin.write(job + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            answer = ""
        if answer.strip() == "done":
            return None
        code = self.proc.wait()
        self.proc = None
        return code

    def close(self) -> None:
        """Let the child finish (it exits when its input closes)."""
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


_WORKER = _Worker()
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
