"""Repairs of files Keras itself refuses but whose intent is unambiguous; each one warns.

Backslash weight paths: tf_keras/Keras 2.13-2.15 on Windows built the object paths inside a
.keras archive's model.weights.h5 with ``os.path.join`` (``tf.io.gfile.join``), so the weights
of layer ``dense`` sit in one root group literally named ``layers\\dense`` (HDF5 separates
with ``/`` only), and Keras on any system later fails to find them (keras-team/keras#18528).
The repair builds an in-memory copy with ``/`` paths (as large as the weights, which the
archive's budget already bounds).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import h5py


class RepairWarning(UserWarning):
    """kerasport read a file Keras would refuse, after repairing it (the message says how)."""


def _backslashed(group: h5py.Group) -> list[str]:
    return [name for name in group if "\\" in name]


def _copy(src: h5py.Group, dst: h5py.Group, path: str) -> None:
    target = dst.require_group(path) if path else dst
    for key, value in src.attrs.items():
        target.attrs[key] = value
    for name in src:
        child = src[name]
        inner = "/".join(p for p in (path, *name.split("\\")) if p)
        if isinstance(child, h5py.Group):
            _copy(child, dst, inner)
        elif isinstance(child, h5py.Dataset):
            dst.create_dataset(inner, data=child[()])


def repair_weight_paths(h5: h5py.File, where: str) -> Any:
    """``h5`` itself, or (if object paths were written with backslashes) an in-memory copy
    with ``/`` paths, after a RepairWarning naming the file."""
    if not _backslashed(h5):
        return h5
    fixed = h5py.File(io.BytesIO(), "w")
    try:
        _copy(h5, fixed, "")
    except BaseException:
        fixed.close()
        raise
    h5.close()
    warnings.warn(f"{where}: weight paths written with Windows backslashes (tf_keras/Keras "
                  "2.13-2.15 on Windows, keras-team/keras#18528) were read as '/' paths; "
                  "Keras itself cannot load this file", RepairWarning, stacklevel=2)
    return fixed
