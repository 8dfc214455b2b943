"""The Keras target's own graph: Keras 3 layers (class, config, call nodes) and their weights
at their Keras 3 paths, built once and then written as a ``.keras`` archive or as code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasport.keras.config import CallNode, TensorRef

LAYERS_MODULE = "keras.layers"


@dataclass
class KLayer:
    """One Keras 3 layer or operation of a functional model.

    ``inbound`` holds the call nodes (tensors as TensorRef, numbered from 0 per layer);
    ``weights`` the layer's arrays by path inside its weight group (``vars/0``,
    ``cell/vars/1`` ...); ``model`` a nested model's own graph; ``source`` where the layer
    came from (the source layer's name and class), for messages."""

    name: str
    class_name: str
    config: dict[str, Any]
    inbound: list[CallNode] = field(default_factory=list)
    module: str = LAYERS_MODULE
    registered_name: str | None = None
    weights: list[tuple[str, np.ndarray]] = field(default_factory=list)
    model: KModel | None = None
    source: str = ""

    @property
    def is_operation(self) -> bool:
        """A keras.ops operation (not a layer: no weights, no place in model.layers)."""
        return self.module.startswith(("keras.src.ops", "keras.src.activations"))


@dataclass
class KModel:
    """A Functional or Sequential Keras 3 model: layers in call order, and its inputs and
    outputs as TensorRef structures (a TensorRef, or a list or dict of them)."""

    name: str
    class_name: str
    layers: list[KLayer]
    inputs: Any
    outputs: Any
    assets: dict[str, bytes] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # source name -> Keras 3 name

    def layer(self, name: str) -> KLayer:
        """The layer called ``name``."""
        return next(layer for layer in self.layers if layer.name == name)


def refs_in(obj: Any) -> list[TensorRef]:
    """Every TensorRef inside a nested structure, in order."""
    if isinstance(obj, TensorRef):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [r for v in obj for r in refs_in(v)]
    if isinstance(obj, dict):
        return [r for v in obj.values() for r in refs_in(v)]
    return []


def count_weights(model: KModel) -> int:
    """Number of weight arrays in the model and its nested models."""
    return sum(len(layer.weights) + (count_weights(layer.model) if layer.model else 0)
               for layer in model.layers)
