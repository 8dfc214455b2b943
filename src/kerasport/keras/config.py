"""One normalised form of Keras 2 and Keras 3 model configs.

Keras 3 writes call nodes as ``{"args": [...], "kwargs": {...}}`` with ``__keras_tensor__``
entries; Keras 2 writes ``[[layer, node, tensor, kwargs], ...]`` and numbers the nodes of nested
models from 1. Dtype policies, activation objects and a few renamed keys differ too. Everything
here turns both into :class:`ModelSpec`/:class:`LayerSpec` so layer converters see one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kerasport.errors import ModelFileError
from kerasport.keras.keras1 import upgrade_layer

MODEL_CLASSES = {"Functional", "Model", "Sequential"}
# keras.ops operations whose recorded config holds a dtype
_OPS_WITH_DTYPE = {"ZerosLike", "OnesLike", "FullLike", "Zeros", "Ones", "Full", "Cast",
                   "ConvertToTensor", "Arange"}


@dataclass(frozen=True)
class TensorRef:
    """Output ``index`` of call ``node`` of layer ``layer``."""

    layer: str
    node: int
    index: int


@dataclass
class CallNode:
    """One call of a layer: positional args and keyword args, tensors as TensorRef."""

    args: list[Any]
    kwargs: dict[str, Any]

    def tensors(self) -> list[TensorRef]:
        """Tensor arguments in call order (positional first, then keyword)."""
        return flatten_refs(self.args)

    def tensor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that hold tensors."""
        return {k: v for k, v in self.kwargs.items() if flatten_refs(v)}


@dataclass
class LayerSpec:
    """A layer as read from the config; ``model`` is set for a nested model."""

    name: str
    class_name: str
    config: dict[str, Any]
    inbound: list[CallNode]
    registered_name: str | None = None
    module: str | None = None
    model: ModelSpec | None = None


@dataclass
class ModelSpec:
    """A model in functional form (a Sequential becomes a chain with an InputLayer).

    ``weight_layers`` is the list of (name, class_name) in the order Keras' saving walk visits
    the model's layers (a Sequential leaves out its InputLayer)."""

    name: str
    class_name: str
    layers: list[LayerSpec]
    inputs: Any
    outputs: Any
    keras_major: int
    weight_layers: list[tuple[str, str]] = field(default_factory=list)

    def layer(self, name: str) -> LayerSpec:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ModelFileError(f"model '{self.name}' refers to an unknown layer '{name}'")


def flatten_refs(obj: Any) -> list[TensorRef]:
    """Every TensorRef inside a nested list/dict structure, in order."""
    if isinstance(obj, TensorRef):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [r for item in obj for r in flatten_refs(item)]
    if isinstance(obj, dict):
        return [r for item in obj.values() for r in flatten_refs(item)]
    return []


def _is_index(obj: Any) -> bool:
    return isinstance(obj, int) and not isinstance(obj, bool) and 0 <= obj < 1 << 31


def _is_triple(obj: Any) -> bool:
    return (isinstance(obj, (list, tuple)) and len(obj) in (3, 4) and isinstance(obj[0], str)
            and all(_is_index(i) for i in obj[1:3]))


def tensor_ref(obj: Any, what: str = "tensor reference") -> TensorRef:
    """``[layer, node, index]`` (Keras 2 adds a kwargs dict) -> TensorRef, checked: a layer
    name and two non-negative integers (floats with integral values are accepted)."""
    if isinstance(obj, (list, tuple)) and len(obj) in (3, 4) and isinstance(obj[0], str):
        node, index = obj[1], obj[2]
        if isinstance(node, float) and node.is_integer():
            node = int(node)
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if _is_index(node) and _is_index(index):
            return TensorRef(obj[0], node, index)
    raise ModelFileError(f"unreadable {what} in the model config: {str(obj)[:200]}")


def _structure(obj: Any) -> Any:
    """input_layers/output_layers in either Keras version -> TensorRef, list or dict of them."""
    if isinstance(obj, (list, tuple)) and len(obj) in (3, 4) and isinstance(obj[0], str):
        return tensor_ref(obj, "model input/output")
    if isinstance(obj, dict):
        return {k: _structure(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_structure(v) for v in obj]
    raise ModelFileError(f"unreadable model inputs/outputs entry: {obj!r}")


def _parse_k3_arg(obj: Any) -> Any:
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            cfg = obj.get("config")
            hist = cfg.get("keras_history") if isinstance(cfg, dict) else None
            return tensor_ref(hist, "keras_history")
        return {k: _parse_k3_arg(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_parse_k3_arg(v) for v in obj]
    return obj


def _parse_k2_kwarg(obj: Any) -> Any:
    if _is_triple(obj) and len(obj) == 3:
        return TensorRef(obj[0], obj[1], obj[2])
    if isinstance(obj, list) and obj and all(_is_triple(o) for o in obj):
        return [TensorRef(o[0], o[1], o[2]) for o in obj]
    return obj


def _parse_inbound(raw: list[Any], keras_major: int) -> list[CallNode]:
    nodes = []
    if not isinstance(raw or [], list):
        raise ModelFileError(f"unreadable inbound_nodes in the model config: {str(raw)[:200]}")
    for node in raw or []:
        if isinstance(node, dict):
            args = _parse_k3_arg(node.get("args", []))
            kwargs = _parse_k3_arg(node.get("kwargs", {}))
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ModelFileError(f"unreadable call node in the model config: "
                                     f"{str(node)[:200]}")
            nodes.append(CallNode(list(args), dict(kwargs)))
        else:
            if not isinstance(node, list):
                raise ModelFileError(f"unreadable call node in the model config: "
                                     f"{str(node)[:200]}")
            if node and isinstance(node[0], str):  # TFOpLambda writes one bare entry
                node = [node]
            refs = [tensor_ref(e, "inbound node") for e in node]
            kwargs = node[0][3] if node and len(node[0]) > 3 and node[0][3] else {}
            if not isinstance(kwargs, dict):
                raise ModelFileError(f"unreadable call arguments in the model config: "
                                     f"{str(kwargs)[:200]}")
            kwargs = {k: _parse_k2_kwarg(v) for k, v in kwargs.items()}
            args = [refs[0]] if len(refs) == 1 else [refs]
            nodes.append(CallNode(args, kwargs))
    return nodes


def _dtype_name(dtype: Any) -> Any:
    if isinstance(dtype, dict):
        inner = dtype.get("config", {})
        return inner.get("name", "float32") if isinstance(inner, dict) else "float32"
    return dtype


def activation_name(act: Any) -> Any:
    """An activation as stored in a config (string or serialized object) -> its name."""
    if isinstance(act, dict):
        cfg = act.get("config")
        if isinstance(cfg, str):
            return cfg
        if isinstance(cfg, dict) and "name" in cfg:
            return cfg["name"]
        return act.get("class_name")
    return act


_RENAMES = {
    # Keras 2 key -> Keras 3 key, per class
    "LeakyReLU": {"alpha": "negative_slope"},
    "InputLayer": {"batch_input_shape": "batch_shape"},
}


def normalise_layer_config(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Keras 2 or 3 layer config -> the Keras 3 form (dtype as a name, activation as a name)."""
    cfg = dict(config)
    for old, new in _RENAMES.get(class_name, {}).items():
        if old in cfg and new not in cfg:
            cfg[new] = cfg.pop(old)
    if "dtype" in cfg:
        cfg["dtype"] = _dtype_name(cfg["dtype"])
    for key in ("activation", "recurrent_activation"):
        if key in cfg:
            cfg[key] = activation_name(cfg[key])
    return cfg


def _old_sequential(raw: dict[str, Any]) -> dict[str, Any]:
    """Keras 2.0-2.2.2 stored a Sequential's config as the bare list of its layers (the dict
    form with "layers" came in 2.2.3): give it the later form."""
    if raw.get("class_name") == "Sequential" and isinstance(raw.get("config"), list):
        name = raw.get("name") if isinstance(raw.get("name"), str) else "sequential"
        layers = list(raw["config"])
        first = layers[0].get("config") if layers and isinstance(layers[0], dict) else None
        if isinstance(first, dict) and first.get("batch_input_shape") is not None:
            # the Input those versions made for the first layer (and the call node it made,
            # which the saved node indices count), explicit as later versions store it
            layers.insert(0, {"class_name": "InputLayer", "config": {
                "batch_input_shape": first["batch_input_shape"],
                "dtype": first.get("dtype") or "float32", "sparse": False,
                "name": f"{first.get('name')}_input"}})
        return {**raw, "config": {"name": name, "layers": layers}}
    return raw


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ModelFileError(f"unreadable '{key}' of a layer in the model config: "
                             f"{str(value)[:200]}")
    return value


def _layer_spec(raw: dict[str, Any], keras_major: int) -> LayerSpec:
    if not isinstance(raw, dict):
        raise ModelFileError(f"unreadable layer entry in the model config: {str(raw)[:200]}")
    raw = _old_sequential(raw)
    class_name = raw.get("class_name")
    config = raw.get("config")
    if not isinstance(class_name, str) or not isinstance(config, dict):
        raise ModelFileError(f"unreadable layer entry in the model config: {str(raw)[:200]}")
    if keras_major <= 1:
        class_name, config = upgrade_layer(class_name, config)
    name = raw.get("name") or config.get("name")
    if not isinstance(name, str) or not name:
        raise ModelFileError(f"a '{class_name}' layer has no readable name in the model "
                             f"config: {str(name)[:200]}")
    spec = LayerSpec(
        name=name,
        class_name=class_name,
        config=normalise_layer_config(class_name, config),
        inbound=_parse_inbound(raw.get("inbound_nodes", []), keras_major),
        registered_name=_optional_str(raw, "registered_name"),
        module=_optional_str(raw, "module"),
    )
    if not spec.module and "trainable" not in config and (
            "dtype" not in config or class_name in _OPS_WITH_DTYPE) and (
            class_name not in MODEL_CLASSES):
        # Keras 3's legacy .h5 writer drops "module"; an operation (``x + 3.0``) is told from
        # a layer by its config, which holds no trainable/dtype keys (SpatialDropout1D's has a
        # dtype and no "trainable"; the ops in _OPS_WITH_DTYPE have a dtype).
        spec.module = "keras.src.ops"
    if class_name in MODEL_CLASSES and "layers" in config:
        spec.model = parse_model(raw, keras_major)
    return spec


def _input_shape_of(first: dict[str, Any], model_cfg: dict[str, Any]) -> list | None:
    cfg = first.get("config", {})
    cfg = cfg if isinstance(cfg, dict) else {}
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(cfg.get(key), (list, tuple)) and cfg[key]:
            return list(cfg[key])
    if isinstance(cfg.get("input_shape"), (list, tuple)) and cfg["input_shape"]:
        return [None, *cfg["input_shape"]]
    shape = model_cfg.get("build_input_shape")
    return list(shape) if isinstance(shape, (list, tuple)) and shape else None


def _parse_sequential(name: str, cfg: dict[str, Any], keras_major: int) -> ModelSpec:
    raw_layers = cfg.get("layers") or []
    if not isinstance(raw_layers, list) or not all(isinstance(r, dict) for r in raw_layers):
        raise ModelFileError(f"Sequential model '{name}': unreadable layer list")
    raw_layers = list(raw_layers)
    if not raw_layers:
        raise ModelFileError(f"Sequential model '{name}' has no layers")
    if raw_layers[0].get("class_name") == "InputLayer":
        input_raw = raw_layers.pop(0)
        if not isinstance(input_raw.get("config"), dict):
            raise ModelFileError(f"Sequential model '{name}': unreadable InputLayer config")
        input_cfg = normalise_layer_config("InputLayer", input_raw["config"])
    else:
        shape = _input_shape_of(raw_layers[0], cfg)
        if shape is None:
            raise ModelFileError(
                f"Sequential model '{name}' records no input shape; build the model (call it on "
                "data or give an Input) before saving it")
        dtype = _dtype_name(raw_layers[0].get("config", {}).get("dtype")) or "float32"
        input_cfg = {"name": f"{name}_input", "batch_shape": shape,
                     "dtype": dtype if isinstance(dtype, str) else "float32"}
    input_name = input_cfg.get("name") or f"{name}_input"
    layers = [LayerSpec(input_name, "InputLayer", input_cfg, [])]
    prev = TensorRef(input_name, 0, 0)
    weight_layers = []
    for raw in raw_layers:
        spec = _layer_spec({**raw, "inbound_nodes": []}, keras_major)
        spec.inbound = [CallNode([prev], {})]
        layers.append(spec)
        weight_layers.append((spec.name, spec.class_name))
        prev = TensorRef(spec.name, 0, 0)
    return ModelSpec(name, "Sequential", layers, TensorRef(input_name, 0, 0), prev, keras_major,
                     weight_layers)


def _skips_first_node(layer: LayerSpec) -> bool:
    # Keras 2 does not save the first call node of a nested model built on its own Input, and
    # numbers the saved calls from 1 (tf_keras functional_utils._should_skip_first_node).
    if layer.model is None:
        return False
    if layer.class_name == "Sequential":
        first = layer.config.get("layers") or [{}]
        return first[0].get("class_name") == "InputLayer"
    return True


def _shift_refs(obj: Any, offsets: dict[str, int]) -> Any:
    if isinstance(obj, TensorRef):
        return TensorRef(obj.layer, obj.node - offsets.get(obj.layer, 0), obj.index)
    if isinstance(obj, list):
        return [_shift_refs(v, offsets) for v in obj]
    if isinstance(obj, dict):
        return {k: _shift_refs(v, offsets) for k, v in obj.items()}
    return obj


def parse_model(raw: dict[str, Any], keras_major: int) -> ModelSpec:
    """A serialized model (``{"class_name": ..., "config": ...}``) -> ModelSpec."""
    if not isinstance(raw, dict):
        raise ModelFileError(f"the model config is a {type(raw).__name__}, not a serialized "
                             "model (a JSON object with class_name and config)")
    raw = _old_sequential(raw)
    class_name = raw.get("class_name")
    cfg = raw.get("config")
    if not isinstance(class_name, str) or class_name not in MODEL_CLASSES:
        raise ModelFileError(
            f"the file holds a {str(class_name)[:100]!r} object, not a Sequential or "
            "Functional model; subclassed models cannot be read from their config (save a "
            "functional model)")
    if not isinstance(cfg, dict):
        raise ModelFileError(f"the config of the {class_name} model is unreadable (a "
                             f"{type(cfg).__name__}, not a JSON object)")
    name = cfg.get("name") or raw.get("name") or "model"
    if not isinstance(name, str):
        raise ModelFileError(f"unreadable model name in the config: {str(name)[:200]}")
    if class_name == "Sequential":
        return _parse_sequential(name, cfg, keras_major)
    raw_layers = cfg.get("layers", [])
    if not isinstance(raw_layers, list):
        raise ModelFileError(f"model '{name}': unreadable layer list")
    layers = [_layer_spec(r, keras_major) for r in raw_layers]
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ModelFileError(f"model '{name}' has two layers named '{dup}'")
    inputs = _structure(cfg.get("input_layers", []))
    outputs = _structure(cfg.get("output_layers", []))
    if keras_major < 3:
        offsets = {layer.name: 1 for layer in layers if _skips_first_node(layer)}
        for layer in layers:
            for node in layer.inbound:
                node.args = _shift_refs(node.args, offsets)
                node.kwargs = _shift_refs(node.kwargs, offsets)
    else:
        # Keras 3 numbers a nested Functional's calls from 1 in input_layers/output_layers
        # only (its built-in node counts there), not in call arguments.
        offsets = {layer.name: 1 for layer in layers
                   if layer.model is not None and layer.class_name != "Sequential"}
    outputs = _shift_refs(outputs, offsets)
    return ModelSpec(name, "Functional", layers, inputs, outputs, keras_major,
                     [(layer.name, layer.class_name) for layer in layers])
