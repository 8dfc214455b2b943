"""Engines behind ``Model.predict``: kerasport's NumPy runtime (the default, no dependencies),
ONNX Runtime and LiteRT, each built in memory from kerasport's own exports and checked once
against the NumPy runtime.

    m = kerasport.load("model.keras", engine="auto")   # or "numpy", "onnxruntime", "litert"
    m.engine, m.engine_notes                            # which one runs, and why
"""

from __future__ import annotations

from kerasport.engines.base import EngineUnavailable, Runner
from kerasport.engines.select import (
    CHECK_TOLERANCE,
    ENGINE_NAMES,
    check_engine_name,
    choose_engine,
    use_engine,
)

__all__ = ["CHECK_TOLERANCE", "ENGINE_NAMES", "EngineUnavailable", "Runner", "check_engine_name",
           "choose_engine", "use_engine"]
