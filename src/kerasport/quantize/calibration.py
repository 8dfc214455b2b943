"""Calibration (representative) data for static quantization: .npy / .npz files, checked
against the model's inputs."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kerasport.errors import InputError


def load_calibration(path: str, model: Any, limit: int | None = None) -> list[np.ndarray]:
    """Arrays for each model input (batch first) from ``path``: a .npy (one input) or a .npz
    keyed by input name (or holding exactly as many arrays as the model has inputs)."""
    if not os.path.exists(path):
        raise InputError(f"calibration data {path}: no such file")
    names = model.input_names
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            found = {k: data[k] for k in data.files}
        if set(names) <= set(found):
            arrays = [found[n] for n in names]
        elif len(found) == len(names):
            arrays = [found[k] for k in sorted(found)]
        else:
            raise InputError(f"calibration data {path} holds {sorted(found)}; the model's "
                             f"inputs are {names}")
    elif path.endswith(".npy"):
        if len(names) != 1:
            raise InputError(f"the model has {len(names)} inputs: give calibration data as a "
                             ".npz keyed by input name")
        arrays = [np.load(path, allow_pickle=False)]
    else:
        raise InputError(f"calibration data {path}: expected a .npy or .npz file")
    checked = [model._check(n, a) for n, a in zip(names, arrays)]
    if not checked[0].shape[0]:
        raise InputError(f"calibration data {path} is empty")
    if limit:
        checked = [a[:limit] for a in checked]
    return checked
