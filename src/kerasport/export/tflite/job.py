"""What both sides of the TFLite worker share: the model description handed to the child
process and the error it reports back (plain data, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kerasport.errors import KerasportError


class TFLiteConversionError(KerasportError):
    """TensorFlow's converter refused the model; the message says which ops and layers."""


@dataclass(frozen=True)
class ModelInfo:
    """What the converter needs to know about the kerasport model (plain data, so that it
    can be handed to the worker process)."""

    keras_major: int
    input_names: list[str]
    input_shapes: list[list[int | None]]
    input_dtypes: list[str]
    layer_names: list[str]

    @classmethod
    def from_model(cls, model: Any) -> ModelInfo:
        """Read the inputs and layer names of a kerasport ``Model`` loaded from a Keras
        file."""
        return cls(keras_major(model), list(model.input_names),
                   [list(s) for s in model.input_shapes],
                   [str(model.graph.values[n].dtype) for n in model.input_names],
                   sorted({n.layer for n in model.graph.nodes if n.layer}))


def keras_major(model: Any) -> int:
    """The Keras major version that wrote the file ``model`` was loaded from."""
    version = str(model.meta.get("keras_version", ""))
    if not version:
        raise KerasportError("TFLite export needs the original .keras/.h5 file (a kerasport "
                             "bundle holds no Keras model to hand to TensorFlow's converter)")
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 3
