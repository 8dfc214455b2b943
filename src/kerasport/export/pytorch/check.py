"""Check a generated module where torch is installed: run it in a worker process on the
reference input and compare with the NumPy runtime's outputs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

from kerasport.errors import VerificationError

EXTRA_NOTE = ("torch not installed: the module was written but not run "
              "(pip install 'kerasport[pytorch]' to check it)")


def torch_available() -> bool:
    """Whether torch can be imported (found without importing it)."""
    return importlib.util.find_spec("torch") is not None


def run_in_worker(py_path: str, inputs: list[np.ndarray], timeout: float = 600) -> list:
    """The generated module's outputs on ``inputs``, computed by torch in a worker process."""
    with tempfile.TemporaryDirectory(prefix="kerasport-torch-") as work:
        ins, outs = os.path.join(work, "inputs.npz"), os.path.join(work, "outputs.npz")
        np.savez(ins, **{f"input_{i}": a for i, a in enumerate(inputs)})
        env = dict(os.environ)
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        proc = subprocess.run([sys.executable, "-m", "kerasport.export.pytorch.worker",
                               py_path, ins, outs], capture_output=True, text=True,
                              timeout=timeout, env=env)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
            raise VerificationError(f"the generated PyTorch module {py_path} failed in "
                                    f"torch:\n{tail}")
        with np.load(outs, allow_pickle=False) as data:
            return [data[f"output_{i}"] for i in range(len(data.files))]


def check_module(py_path: str, inputs: list[np.ndarray],
                 want: list[np.ndarray]) -> tuple[float | None, str]:
    """(max relative error of torch vs ``want``, or None when torch is missing; the line to
    print)."""
    from kerasport.metrics import max_relative_error

    if not torch_available():
        return None, EXTRA_NOTE
    got = run_in_worker(py_path, inputs)
    err = max_relative_error(got, want)
    return err, f"PyTorch vs kerasport: max relative error {err:.2e}"


def is_pytorch_export(path: str) -> bool:
    """Whether ``path`` is a folder written by ``--to pytorch`` (a module, its safetensors
    weights and reference.npz), not a model directory such as a SavedModel."""
    if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "reference.npz")):
        return False
    names = os.listdir(path)
    return any(n.endswith(".safetensors") for n in names) and any(n.endswith(".py")
                                                                   for n in names)


def verify_directory(path: str, tolerance: float = 1e-4) -> float:
    """``kerasport verify`` of a folder written by ``--to pytorch``: run its module on the
    recorded reference input in torch; returns the max relative error, raises
    ``VerificationError`` above ``tolerance``."""
    from kerasport.errors import InputError, MissingExtraError
    from kerasport.metrics import max_relative_error

    ref = os.path.join(path, "reference.npz")
    modules = sorted(f for f in os.listdir(path) if f.endswith(".py"))
    if not os.path.isfile(ref) or len(modules) != 1:
        raise InputError(f"{path}: not a folder written by `kerasport convert --to pytorch` "
                         "(it needs one .py module and its reference.npz)")
    if not torch_available():
        raise MissingExtraError("verifying a PyTorch module needs torch: "
                                "pip install 'kerasport[pytorch]'")
    with np.load(ref, allow_pickle=False) as data:
        inputs = [data[f"input_{i}"] for i in range(sum(k.startswith("input_")
                                                        for k in data.files))]
        want = [data[f"output_{i}"] for i in range(sum(k.startswith("output_")
                                                       for k in data.files))]
    err = max_relative_error(run_in_worker(os.path.join(path, modules[0]), inputs), want)
    if err > tolerance:
        raise VerificationError(f"{path}: the PyTorch module's outputs drifted from the "
                                f"recorded reference: max relative error {err:.2e} > "
                                f"{tolerance:.0e}")
    return err
