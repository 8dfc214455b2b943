"""Keras 3 target: a ``.keras`` archive (``--to keras``) or readable Keras code
(``--to keras-code``), written with numpy, h5py and zipfile only, then checked in Keras 3
(in a worker process) where Keras is installed."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kerasport.errors import KerasportError, VerificationError
from kerasport.export.keras.graph import KModel
from kerasport.metrics import max_relative_error

if TYPE_CHECKING:
    from kerasport.model import Model

CHECK_TOLERANCE = 1e-4
KERAS_EXTRA = 'pip install "kerasport[keras]"'


@dataclass
class KerasCheck:
    """How Keras 3 ran the written model: its max error relative to kerasport's runtime on
    the reference input (None if Keras 3 is not installed, with ``note`` saying so)."""

    error: float | None
    note: str


def keras_graph(source: str, weights: str | None = None, model: Model | None = None
                ) -> KModel:
    """Build the Keras 3 form of ``source``. A Keras model (.keras, .h5, a tf.keras SavedModel,
    JSON + ``weights``, TF.js) keeps its layers; a graph that holds no Keras layers (a
    kerasport bundle, an ONNX model: ``model``'s IR, or the bundle's) maps its IR ops to
    layers. Every layer or op Keras 3 cannot load is refused by name."""
    from kerasport.bundle import is_bundle, load_bundle
    from kerasport.export.keras.from_ir import from_ir
    from kerasport.export.keras.from_keras import from_keras
    from kerasport.keras.files import guarded, sniff
    from kerasport.keras.split import read_model
    from kerasport.keras.weights import KerasV3Weights
    from kerasport.onnx_reader import looks_like_onnx

    if weights is None and os.path.isfile(source):
        if sniff(source) == "zip" and is_bundle(source):
            with guarded(source):
                return from_ir(load_bundle(source)[0] if model is None else model.graph)
        if looks_like_onnx(source):
            if model is None:
                raise KerasportError(f"{source}: an ONNX model: give its kerasport model "
                                     "(kerasport.load) to map its IR ops to Keras layers")
            return from_ir(model.graph)
    kf = read_model(source, weights)
    try:
        with guarded(source):
            # a .keras archive's weights sit at Keras 3's paths already: they are kept
            keep = kf.format == "keras" and isinstance(kf.weights, KerasV3Weights)
            kmodel = from_keras(kf.spec, kf.weights, keep)
            if keep and isinstance(kf.weights, KerasV3Weights):
                kmodel.assets = dict(kf.weights.archive_assets)
    finally:
        kf.close()
    return kmodel


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
