"""kerasport: run trained Keras models anywhere, without TensorFlow.

    >>> import kerasport
    >>> m = kerasport.load("model.keras")   # .keras, .h5 (Keras 2 or 3) or a bundle
    >>> y = m.predict(x)
    >>> m.save("model.npz")
    >>> kerasport.convert("model.keras", "model.onnx", to="onnx").error  # written and checked
"""

from __future__ import annotations

from kerasport.api import inspect_file, load
from kerasport.conversion import ConversionResult, ConvertOptions, convert
from kerasport.errors import (
    InputError,
    KerasportError,
    LayerIssue,
    MissingExtraError,
    ModelFileError,
    UnsupportedLayerError,
    VerificationError,
    WeightsError,
)
from kerasport.keras.registry import LayerContext, register_converter
from kerasport.model import Model

__version__ = "0.1.0"

__all__ = [
    "ConversionResult",
    "ConvertOptions",
    "InputError",
    "KerasportError",
    "LayerContext",
    "LayerIssue",
    "MissingExtraError",
    "Model",
    "ModelFileError",
    "UnsupportedLayerError",
    "VerificationError",
    "WeightsError",
    "convert",
    "inspect_file",
    "load",
    "register_converter",
]
