"""Lazy imports of the optional TFLite dependencies (TensorFlow's converter, LiteRT)."""

from __future__ import annotations

import os
from typing import Any

from kerasport.errors import MissingExtraError

EXTRA_HINT = "pip install 'kerasport[tflite]'"
TF_HINT = "pip install 'kerasport[tflite-tf]'"  # TensorFlow's converter (--converter tensorflow)


def import_tensorflow() -> Any:
    """TensorFlow, on the CPU and quiet; MissingExtraError naming the extra if absent."""
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise MissingExtraError(f"TFLite export needs TensorFlow's converter: {TF_HINT}") \
            from exc
    return tf


def require_tensorflow() -> None:
    """Check that TensorFlow is installed, without importing it (the conversion itself runs
    in a worker process)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules holds None for it
        found = False
    if not found:
        raise MissingExtraError(f"TFLite export needs TensorFlow's converter: {TF_HINT}")


def import_keras(major: int) -> Any:
    """Keras 3 (``keras``) for Keras 3 files, ``tf_keras`` for Keras 2 files."""
    import_tensorflow()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    name = "keras" if major >= 3 else "tf_keras"
    try:
        module = __import__(name)
    except ImportError as exc:
        raise MissingExtraError(f"this is a Keras {major} file: loading it for TFLite export "
                                f"needs the '{name}' package: {TF_HINT}") from exc
    if major >= 3 and not str(getattr(module, "__version__", "3")).startswith("3"):
        raise MissingExtraError(f"a Keras 3 file needs Keras 3, found keras "
                                f"{module.__version__}: {TF_HINT}")
    return module


def litert_interpreter_class() -> Any:
    """LiteRT's Interpreter class (ai-edge-litert)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise MissingExtraError(f"checking TFLite files needs LiteRT (ai-edge-litert): "
                                f"{EXTRA_HINT}") from exc
    return Interpreter
