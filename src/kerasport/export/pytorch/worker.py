"""Run a generated PyTorch module in this (worker) process:

    python -m kerasport.export.pytorch.worker MODULE.py INPUTS.npz OUTPUTS.npz

loads ``load_model()`` from MODULE.py, runs it on ``input_0``, ``input_1`` ... and writes
``output_0`` ... to OUTPUTS.npz. Kept apart so that the converting process never imports
torch."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np


def run(py_path: str, inputs_path: str, outputs_path: str) -> None:
    """Load the module at ``py_path``, run it on the inputs, save its outputs."""
    import torch

    spec = importlib.util.spec_from_file_location("kerasport_generated", py_path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {py_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load_model()
    with np.load(inputs_path, allow_pickle=False) as data:
        inputs = [torch.from_numpy(data[f"input_{i}"]) for i in range(len(data.files))]
    with torch.no_grad():
        out = model(*inputs)
    outs = [out] if isinstance(out, torch.Tensor) else list(out)
    np.savez(outputs_path, **{f"output_{i}": o.numpy() for i, o in enumerate(outs)})


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    run(*sys.argv[1:])
