"""Sources by delegation: a PyTorch module (TorchScript file, or a class in a network script)
or a TensorFlow graph (SavedModel without Keras metadata, frozen .pb, checkpoint .meta) is
exported to ONNX by its own framework in a worker process (kerasport.delegate.worker), then
read by kerasport's ONNX reader. The caller never imports the framework. The framework's own
output on a random input is compared with kerasport's, and the error is reported.

    m = kerasport.delegate.from_torch("net.pt", input_shape=(1, 3, 32, 32))
    m = kerasport.delegate.from_torch("net.py", network_name="Net", input_shape=(1, 8))
    m = kerasport.delegate.from_tensorflow("saved_model_dir", input_shape=(1, 4))
    m.meta["error_vs_source"]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

from kerasport.api import load
from kerasport.bundle import Reference
from kerasport.errors import KerasportError, ModelFileError
from kerasport.model import Model

# a delegated export may take long (large models, first import of the framework)
TIMEOUT_S = 1800


def _run(job: dict[str, Any], workdir: str, source: str) -> None:
    job_path = os.path.join(workdir, "job.json")
    with open(job_path, "w", encoding="utf-8") as f:
        json.dump(job, f)
    try:
        proc = subprocess.run([sys.executable, "-m", "kerasport.delegate.worker", job_path],
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise KerasportError(f"{source}: the {job['framework']} export did not finish in "
                             f"{TIMEOUT_S} s") from exc
    if proc.returncode != 0 or not os.path.exists(job["onnx"]):
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-6:]
        reason = tail[-1].strip() if tail else f"exit status {proc.returncode}"
        if "No module named" in proc.stderr:
            extra = "torch" if job["framework"] == "torch" else "tensorflow"
            tail.append(f'(needs the {extra} extra: pip install "kerasport[{extra}]")')
        # the reason on the first line: kerasport batch's summary shows only that one
        rest = tail if tail != [reason] else []
        raise KerasportError(f"{source}: the {job['framework']} worker failed: {reason} "
                             "(nothing was written)" + "".join("\n    " + t for t in rest))


def _delegate(job: dict[str, Any], source: str) -> Model:
    with tempfile.TemporaryDirectory(prefix="kerasport-delegate-") as tmp:
        job.update(onnx=os.path.join(tmp, "model.onnx"), io=os.path.join(tmp, "io.npz"))
        _run(job, tmp, source)
        model = load(job["onnx"])
        with np.load(job["io"], allow_pickle=False) as io:
            x, y = io["x"], io["y"]
    got = model(x)
    err = float(np.abs(got - y).max() / max(float(np.abs(y).max()), 1e-12))
    meta = dict(model.meta, source=os.path.basename(source), source_format=job["kind"],
                error_vs_source=err)
    # the framework's own output is the reference a saved bundle's verify() checks
    return Model(model.graph, Reference([x], [y]), meta)


def _shape(input_shape: Any) -> list[int]:
    dims = [int(d) for d in input_shape]
    if not dims or any(d < 1 for d in dims):
        raise KerasportError(f"input_shape must be positive ints, got {input_shape!r}")
    return dims


def from_torch(source: str | os.PathLike, input_shape: Any, network_name: str | None = None,
               weights: str | None = None, dynamic_batch: bool = True) -> Model:
    """A PyTorch model through torch.onnx.export: a TorchScript file, or (with
    ``network_name``) the class of that name in the network script ``source``, built without
    arguments (and given the state dict ``weights``, read with weights_only=True)."""
    source = os.fspath(source)
    if not os.path.isfile(source):
        raise ModelFileError(f"{source}: no such file")
    kind = "script" if network_name else "torchscript"
    job = {"framework": "torch", "kind": kind, "source": os.path.abspath(source),
           "network_name": network_name, "input_shape": _shape(input_shape),
           "weights": weights and os.path.abspath(weights), "dynamic_batch": dynamic_batch}
    return _delegate(job, source)


def from_tensorflow(source: str | os.PathLike, input_shape: Any,
                    input_nodes: list[str] | None = None,
                    output_nodes: list[str] | None = None) -> Model:
    """A TensorFlow graph through tf2onnx: a SavedModel directory, a frozen .pb
    (``input_nodes``/``output_nodes`` like "x:0") or a checkpoint .meta."""
    source = os.fspath(source)
    if os.path.isdir(source):
        kind = "saved_model"
    elif source.endswith(".meta"):
        kind = "checkpoint"
    elif source.endswith(".pb"):
        kind = "frozen"
    else:
        raise ModelFileError(f"{source}: not a SavedModel directory, .pb or .meta file")
    if kind != "saved_model" and not (input_nodes and output_nodes):
        raise KerasportError(f"{source}: a {kind} graph needs input_nodes and output_nodes "
                             "(e.g. ['x:0'])")
    job = {"framework": "tensorflow", "kind": kind, "source": os.path.abspath(source),
           "input_nodes": input_nodes, "output_nodes": output_nodes,
           "input_shape": _shape(input_shape)}
    return _delegate(job, source)
