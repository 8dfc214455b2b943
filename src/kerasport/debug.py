"""Find the first layer that drifts: compare every intermediate value with Keras.

Needs Keras installed (the ``keras`` extra); imported only when called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.metrics import max_relative_error
from kerasport.model import Model


def compare_layers(keras_model: Any, model: Model, x: Any,
                   tol: float = 1e-4) -> list[tuple[str, float]]:
    """Max error per top-level Keras layer output (relative to max(1, |keras|)), in model
    order; prints the first layer above ``tol``."""
    import keras

    values = model.run_all(x)
    rows: list[tuple[str, float]] = []
    first = None
    for layer in keras_model.layers:
        if layer.name not in values:
            continue
        try:
            probe = keras.Model(keras_model.inputs, layer.output)
        except Exception:  # a layer with several outputs or nodes
            continue
        want = np.asarray(probe(x, training=False))
        got = values[layer.name]
        if got.shape != want.shape:
            rows.append((layer.name, float("inf")))
            continue
        err = max_relative_error([got], [want])
        rows.append((layer.name, err))
        if first is None and err > tol:
            first = layer.name
            print(f"first drift at layer '{layer.name}' ({type(layer).__name__}): {err:.3g}")
    return rows
