"""A Keras file's model spec -> the Keras target's graph, keeping the source's layers.

Every layer Keras 3 has keeps its class, config and name; weights keep Keras' variable order
and move to their Keras 3 paths (a Keras 3 ``.keras`` source keeps its own paths). Only what
Keras 3 cannot express is lowered (Keras 2's TFOpLambda; names with "/") or refused: every
problem is collected and raised once, before anything is written.
"""

from __future__ import annotations

from typing import Any

from kerasport.errors import LayerIssue, UnsupportedLayerError
from kerasport.export.keras.graph import LAYERS_MODULE, KLayer, KModel
from kerasport.export.keras.keras2 import REMOVED, keras3_calls, keras3_config, lower_tf_op
from kerasport.export.keras.layout import LayoutError, weight_paths
from kerasport.export.keras.names import legal_names
from kerasport.keras.config import MODEL_CLASSES, LayerSpec, ModelSpec
from kerasport.keras.registry import is_operation
from kerasport.keras.weights import WeightSource

# tf_keras' .keras files name some sub-objects by their private attribute
_TF_KERAS_PARTS = {f"_{p}": p for p in ("query_dense", "key_dense", "value_dense",
                                         "output_dense")}


# class names some files give that keras.layers spells differently
_CLASSES = {"GroupedQueryAttention": "GroupQueryAttention"}


def _keras3_path(path: str) -> str:
    return "/".join(_TF_KERAS_PARTS.get(part, part) for part in path.split("/"))


def _single(structure: Any) -> Any:
    return structure[0] if isinstance(structure, list) and len(structure) == 1 else structure


class _Builder:
    def __init__(self, keras3_paths: bool):
        # a .keras source stores its weights at Keras 3 paths already: keep them
        self.keras3_paths = keras3_paths
        self.issues: list[LayerIssue] = []
        self.major = 3

    def model(self, spec: ModelSpec, weights: WeightSource) -> KModel:
        layers = [k for k in (self.layer(s, weights, spec.keras_major) for s in spec.layers)
                  if k is not None]
        inputs, outputs = spec.inputs, spec.outputs
        if spec.keras_major < 3:  # Keras 2 lists a single input/output: Keras 2 returned it bare
            inputs, outputs = _single(inputs), _single(outputs)
        return KModel(spec.name, spec.class_name, layers, inputs, outputs)

    def layer(self, spec: LayerSpec, weights: WeightSource, major: int) -> KLayer | None:
        self.major = major
        if spec.class_name == "TFOpLambda":
            return lower_tf_op(spec, self.issues)
        if not self._check(spec):
            return None
        inbound = list(spec.inbound)
        if major >= 3 or is_operation(spec):
            config = dict(spec.config)
        else:
            config = keras3_config(spec.class_name, spec.config, spec.name, self.issues)
            inbound = keras3_calls(spec.class_name, inbound)
        keep = major >= 3 and spec.module
        layer = KLayer(spec.name, _CLASSES.get(spec.class_name, spec.class_name), config, inbound,
                       spec.module if keep else LAYERS_MODULE,
                       spec.registered_name if keep else None,
                       source=f"{spec.name} ({spec.class_name})")
        wrapped = config.get("layer")
        if isinstance(wrapped, dict) and wrapped.get("class_name") in MODEL_CLASSES and (
                not self.keras3_paths or (major < 3 and wrapped["class_name"] != "Sequential")):
            self.issues.append(LayerIssue(
                spec.name, spec.class_name, "a wrapped model from a legacy .h5 file or a Keras "
                "2 functional config has no Keras 3 form here", "layer",
                "save the source as .keras (Keras 3), or unwrap the model"))
            return None
        if spec.model is not None:
            sub = weights.submodel(spec.name, spec.model.weight_layers)
            layer.model = self.model(spec.model, sub)
            if self.keras3_paths and layer.model.class_name != spec.model.class_name:
                layer.model.class_name = spec.model.class_name
        elif spec.class_name != "InputLayer" and not layer.is_operation:
            layer.weights = self._weights(spec, weights, config)
        return layer

    def _check(self, spec: LayerSpec) -> bool:
        custom = (spec.registered_name and ">" in spec.registered_name) or (
            spec.model is None and spec.module
            and not spec.module.startswith(("keras", "tf_keras")))
        if spec.class_name in REMOVED or custom:
            why = ("a custom class: Keras 3 loads it only with its code (custom_objects), "
                   "never in safe mode from the file alone" if custom else
                   "Keras 3 has no such layer")
            self.issues.append(LayerIssue(spec.name, spec.class_name, why, None,
                                          "rebuild it from standard Keras 3 layers"))
            return False
        return True

    def _weights(self, spec: LayerSpec, weights: WeightSource,
                 config: dict[str, Any]) -> list[tuple[str, Any]]:
        arrays = weights.layer(spec.name)
        if self.keras3_paths:
            rename = _keras3_path if self.major < 3 else str
            return [(rename(str(name)), a) for name, a in arrays]
        try:
            paths = weight_paths(spec.class_name, config, len(arrays))
        except LayoutError as exc:
            self.issues.append(LayerIssue(spec.name, spec.class_name, str(exc)))
            return []
        return [(p, a) for p, (_, a) in zip(paths, arrays)]


def from_keras(spec: ModelSpec, weights: WeightSource, keras3_paths: bool) -> KModel:
    """The Keras 3 form of a Keras model read by kerasport. ``keras3_paths``: the weight
    source is a ``.keras`` archive whose paths (Keras 3's) are kept. Raises
    UnsupportedLayerError listing every layer Keras 3 cannot load."""
    builder = _Builder(keras3_paths)
    model = builder.model(spec, weights)
    if builder.issues:
        raise UnsupportedLayerError(builder.issues)
    model.renamed = legal_names(model)
    return model
