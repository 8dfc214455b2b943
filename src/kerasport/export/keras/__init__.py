"""Keras 3 target: a ``.keras`` archive (``--to keras``) or readable Keras code
(``--to keras-code``), written with numpy, h5py and zipfile only, then checked in Keras 3
(in a worker process) where Keras is installed."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from kerasport.errors import VerificationError
from kerasport.export.keras.graph import KModel
from kerasport.metrics import max_relative_error

CHECK_TOLERANCE = 1e-4
KERAS_EXTRA = 'pip install "kerasport[keras]"'


@dataclass
class KerasCheck:
    """How Keras 3 ran the written model: its max error relative to kerasport's runtime on
    the reference input (None if Keras 3 is not installed, with ``note`` saying so)."""

    error: float | None
    note: str


def keras_graph(source: str) -> KModel:
    """Build the Keras 3 form of ``source``: a Keras file keeps its layers; a kerasport bundle
    maps its IR ops to layers. Every layer or op Keras 3 cannot load is refused by name."""
    from kerasport.bundle import is_bundle, load_bundle
    from kerasport.export.keras.from_keras import from_keras
    from kerasport.keras.files import guarded, read_keras_file, sniff
    from kerasport.keras.weights import KerasV3Weights

    if sniff(source) == "zip" and is_bundle(source):
        from kerasport.export.keras.from_ir import from_ir

        with guarded(source):
            graph = load_bundle(source)[0]
        return from_ir(graph)
    kf = read_keras_file(source)
    try:
        with guarded(source):
            keep = kf.format == "keras"
            model = from_keras(kf.spec, kf.weights, keep)
            if keep and isinstance(kf.weights, KerasV3Weights):
                model.assets = dict(kf.weights.archive_assets)
    finally:
        kf.close()
    return model


def keras3_available() -> bool:
    """Keras 3 is importable (checked without importing it)."""
    if importlib.util.find_spec("keras") is None:
        return False
    try:
        return importlib.metadata.version("keras").split(".")[0] == "3"
    except importlib.metadata.PackageNotFoundError:
        return False


def check_in_keras(kind: str, path: str, inputs: list[np.ndarray],
                   expected: list[np.ndarray], shown: str = "") -> KerasCheck:
    """Load ``path`` in Keras 3 (safe mode) in a worker process and compare its outputs for
    ``inputs`` with ``expected``; VerificationError beyond CHECK_TOLERANCE. ``shown`` is
    the name messages give the file (its final name while it is still staged)."""
    if not keras3_available():
        return KerasCheck(None, f"Keras 3 is not installed: the file was written but not "
                                f"loaded in Keras ({KERAS_EXTRA} to check it)")
    from kerasport.export.keras.worker import run_in_keras

    name = shown or os.path.basename(path)
    got = run_in_keras(kind, path, inputs, shown)
    if len(got) != len(expected) or any(g.shape != e.shape for g, e in zip(got, expected)):
        raise VerificationError(
            f"Keras 3 computes outputs of shapes {[g.shape for g in got]} from {name}, "
            f"kerasport {[e.shape for e in expected]}; nothing was written")
    err = max_relative_error(got, expected)
    if not err <= CHECK_TOLERANCE:
        raise VerificationError(f"Keras 3 runs {name} with a max relative error of {err:.3g} "
                                f"against kerasport (tolerance {CHECK_TOLERANCE:g}); nothing "
                                "was written")
    return KerasCheck(err, f"Keras 3 loads {name} (safe_mode=True): max relative error "
                           f"{err:.2e} vs kerasport")
