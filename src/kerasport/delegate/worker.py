"""The worker process of a delegated source: it imports the framework (PyTorch or TensorFlow),
exports the model to ONNX and records the framework's own output on a random input. kerasport
runs it as ``python -m kerasport.delegate.worker job.json``, so the caller never imports the
framework. Only this process runs a user's network script or a TorchScript file."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

OPSET = 17


def _torch_model(job: dict[str, Any]) -> Any:
    import runpy

    import torch

    if job["kind"] == "torchscript":
        return torch.jit.load(job["source"], map_location="cpu").eval()
    namespace = runpy.run_path(job["source"], run_name="kerasport_network_script")
    cls = namespace.get(job["network_name"])
    if cls is None:
        raise SystemExit(f"{job['source']} defines no '{job['network_name']}' (it defines: "
                         f"{', '.join(sorted(k for k in namespace if not k.startswith('_')))})")
    model = cls()
    if job.get("weights"):
        model.load_state_dict(torch.load(job["weights"], map_location="cpu", weights_only=True))
    return model.eval()


def torch_job(job: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Export a PyTorch model (TorchScript file or a class from a script) to ONNX."""
    import torch

    model = _torch_model(job)
    tx = torch.from_numpy(x)
    with torch.no_grad():
        y = model(tx)
    axes = {"x": {0: "N"}, "y": {0: "N"}} if job.get("dynamic_batch", True) else None
    torch.onnx.export(model, (tx,), job["onnx"], dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes=axes, opset_version=OPSET)
    return y.detach().numpy()


def tensorflow_job(job: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Convert a SavedModel, frozen .pb or checkpoint .meta through tf2onnx; TensorFlow runs
    the same graph for the reference."""
    import tensorflow as tf
    from tf2onnx import convert, tf_loader

    ins, outs = job.get("input_nodes"), job.get("output_nodes")
    if job["kind"] == "saved_model":
        graph_def, ins, outs = tf_loader.from_saved_model(job["source"], ins, outs)[:3]
    elif job["kind"] == "frozen":
        graph_def, ins, outs = tf_loader.from_graphdef(job["source"], ins, outs)[:3]
    else:
        graph_def, ins, outs = tf_loader.from_checkpoint(job["source"], ins, outs)[:3]
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            y = session.run(outs[0], {ins[0]: x})
    convert.from_graph_def(graph_def, input_names=ins[:1], output_names=outs[:1], opset=OPSET,
                           output_path=job["onnx"])
    return np.asarray(y)


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        job = json.load(f)
    x = np.random.default_rng(job.get("seed", 0)).standard_normal(job["input_shape"]).astype(
        np.float32)
    fn = torch_job if job["framework"] == "torch" else tensorflow_job
    y = fn(job, x)
    np.savez(job["io"], x=x, y=np.asarray(y, np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
