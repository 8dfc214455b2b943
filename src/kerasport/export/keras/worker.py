"""Load a written ``.keras`` file (or generated Keras code) with Keras 3 in a child process
and run the reference input through it: the caller never imports Keras or TensorFlow.

``python -m kerasport.export.keras.worker`` reads job directories from stdin, one a line:
``JOB/job.json`` (``{"kind": "archive"|"code", "path": ..., "inputs": n}``) and the inputs
``JOB/in<i>.npy``; it writes ``JOB/out<i>.npy`` or ``JOB/error.json`` and answers ``done``.
Keras is imported once and serves jobs until the input closes.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export._worker import JobWorker


class KerasCheckError(KerasportError):
    """Keras 3 could not load or run the written model; the message says why."""


_WORKER = JobWorker("kerasport.export.keras.worker")
atexit.register(_WORKER.close)


def run_in_keras(kind: str, path: str, inputs: list[np.ndarray],
                 shown: str = "") -> list[np.ndarray]:
    """Load ``path`` (a .keras archive, or generated code) with Keras 3 in the worker and
    return its outputs for ``inputs``; messages call the file ``shown`` (its final name)."""
    with tempfile.TemporaryDirectory(prefix="kerasport-keras-") as job:
        for i, a in enumerate(inputs):
            np.save(os.path.join(job, f"in{i}.npy"), a)
        with open(os.path.join(job, "job.json"), "w", encoding="utf-8") as f:
            json.dump({"kind": kind, "path": os.path.abspath(path), "inputs": len(inputs)}, f)
        alive = _WORKER.run(job) is None
        error = os.path.join(job, "error.json")
        if os.path.exists(error):
            with open(error, encoding="utf-8") as f:
                message = json.load(f)["message"]
            raise KerasCheckError(message.replace(os.path.abspath(path), shown or path))
        if not alive:
            raise KerasCheckError(f"the Keras worker process died while loading "
                                  f"{shown or path}")
        outs, i = [], 0
        while os.path.exists(os.path.join(job, f"out{i}.npy")):
            outs.append(np.load(os.path.join(job, f"out{i}.npy"), allow_pickle=False))
            i += 1
        return outs


def _flat(y: Any) -> list[Any]:
    if isinstance(y, dict):
        return [t for v in y.values() for t in _flat(v)]
    if isinstance(y, (list, tuple)):
        return [t for v in y for t in _flat(v)]
    return [y]


def _load(kind: str, path: str) -> Any:
    import keras

    if kind == "archive":
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    import importlib.util

    spec = importlib.util.spec_from_file_location("kerasport_generated_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # code kerasport itself generated
    return module.load_model()


def serve_job(job: str) -> None:
    """The child's side of one job: load, run, write the outputs or the error."""
    with open(os.path.join(job, "job.json"), encoding="utf-8") as f:
        spec = json.load(f)
    inputs = [np.load(os.path.join(job, f"in{i}.npy"), allow_pickle=False)
              for i in range(spec["inputs"])]
    try:
        model = _load(spec["kind"], spec["path"])
        y = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        for i, t in enumerate(_flat(y)):
            np.save(os.path.join(job, f"out{i}.npy"), np.asarray(t))
    except Exception as exc:  # anything Keras raises is reported to the caller
        with open(os.path.join(job, "error.json"), "w", encoding="utf-8") as f:
            json.dump({"message": f"Keras 3 cannot load or run {spec['path']} (nothing was "
                       f"written): {type(exc).__name__}: {str(exc)[:2000]}"}, f)


def main() -> int:
    """Serve jobs read from stdin, one directory per line; answer ``done`` on stdout."""
    answers = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # whatever Keras prints must not mix with the answers
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if line.strip():
            serve_job(line.strip())
            answers.write("done\n")
            answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
