"""``--to keras-code``: readable Python that builds the model with ``keras.layers`` (one
statement per layer, the Keras names) and loads its weights from the ``.weights.h5`` file
beside it (the same file a .keras archive holds, so ``model.load_weights`` reads it)."""

from __future__ import annotations

import keyword
import os
import re
from typing import Any

from kerasport.export.keras.archive import weights_h5
from kerasport.export.keras.graph import KLayer, KModel
from kerasport.keras.config import TensorRef
from kerasport.keras.weights import snake_case

WIDTH = 100
_MULTI_KWARGS = ("return_attention_scores",)


def identifier(name: str, used: set[str]) -> str:
    """A fresh Python identifier for ``name`` (added to ``used``)."""
    base = re.sub(r"\W", "_", name).strip("_") or "t"
    if base[0].isdigit() or keyword.iskeyword(base) or base in ("keras", "layers", "ops"):
        base = f"t_{base}"
    out, i = base, 1
    while out in used:
        out, i = f"{base}_{i}", i + 1
    used.add(out)
    return out


def _call(head: str, args: list[str], indent: str, lead: int = 0) -> str:
    """``head(args)``, wrapped one argument a line when longer than WIDTH (``lead``: how many
    characters precede it on its first line after ``indent``)."""
    joined = ", ".join(args)
    line = f"{indent}{head}({joined})"
    last = line.rsplit("\n", 1)[-1]
    if "\n" not in joined and len(last) + (lead if "\n" not in line else 0) <= WIDTH:
        return line
    inner = indent + "    "
    return f"{indent}{head}(\n" + "".join(f"{inner}{a},\n" for a in args) + f"{indent})"


_OBJECT_KINDS = {"_initializer": "initializers", "_regularizer": "regularizers",
                 "_constraint": "constraints"}
_OPTIONAL = ("_regularizer", "_constraint")  # None is their default: left out
_LAYER_KEYS = {"layer", "backward_layer", "cell", "cells"}


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("class_name"), str) and \
        isinstance(value.get("config"), dict)


def value_code(key: str, value: Any, indent: str) -> str:
    """A config value as code: serialized layers, initializers, regularizers and constraints
    become constructor calls, everything else a literal."""
    if isinstance(value, list) and key in _LAYER_KEYS:
        return "[" + ", ".join(value_code(key, v, indent) for v in value) + "]"
    if not _is_object(value):
        return repr(value)
    kind = next((k for suffix, k in _OBJECT_KINDS.items() if key.endswith(suffix)), None)
    module = str(value.get("module") or "")
    if value["class_name"] in ("Functional", "Sequential", "Model"):  # a wrapped model
        inner = indent + "    "
        return (f"keras.saving.deserialize_keras_object(\n{inner}"
                f"{literal(value, inner)},\n{indent})")
    if key in _LAYER_KEYS or module == "keras.layers":
        head = f"layers.{value['class_name']}"
    elif kind is not None or module in ("keras.initializers", "keras.regularizers",
                                        "keras.constraints"):
        head = f"keras.{kind or module.split('.')[1]}.{value['class_name']}"
    else:
        return repr(value)
    args = config_args(value["config"], indent + "    ")
    return _call(head, args, indent, lead=len(key) + 2).lstrip()


def literal(value: Any, indent: str, lead: int = 0) -> str:
    """``repr(value)``, with dicts and lists spread one item a line where a line would be
    longer than WIDTH."""
    text = repr(value)
    if len(indent) + lead + len(text) <= WIDTH or not isinstance(value, (dict, list)):
        return text
    inner = indent + "    "
    if isinstance(value, dict):
        items = [f"{inner}{k!r}: {literal(v, inner, len(repr(k)) + 2)}," for k, v in
                 value.items()]
        return "{\n" + "\n".join(items) + f"\n{indent}}}"
    items = [f"{inner}{literal(v, inner)}," for v in value]
    return "[\n" + "\n".join(items) + f"\n{indent}]"


def config_args(config: dict[str, Any], indent: str) -> list[str]:
    """A layer config as keyword arguments (name last; trainable and a float32 dtype left
    out: they say nothing about what the model computes)."""
    out = []
    for k, v in config.items():
        if k in ("name", "trainable") or (v is None and k.endswith(_OPTIONAL)):
            continue
        if k == "dtype":
            v = v.get("config", {}).get("name") if isinstance(v, dict) else v
            if v in (None, "float32"):
                continue
        out.append(f"{k}={value_code(k, v, indent)}")
    if "name" in config:
        out.append(f"name={config['name']!r}")
    return out


class _Writer:
    def __init__(self) -> None:
        self.functions: list[str] = []
        self.used: set[str] = {"build_model", "load_model", "WEIGHTS"}
        self.uses_ops = False

    def constructor(self, layer: KLayer, indent: str, lead: int = 0) -> str:
        if layer.model is not None:
            return f"{self.model_function(layer.model)}()"
        config = {**layer.config, "name": layer.name}
        return _call(f"layers.{layer.class_name}", config_args(config, indent + "    "),
                     indent, lead).lstrip()

    def model_function(self, model: KModel) -> str:
        fn = identifier(f"build_{model.name}", self.used)
        lines = [f"def {fn}():", f'    """The {model.class_name} model {model.name!r}."""']
        lines += (self.sequential_body(model) if model.class_name == "Sequential"
                  else self.functional_body(model))
        self.functions.append("\n".join(lines))
        return fn

    @staticmethod
    def input_line(layer: KLayer, indent: str, lead: int = 0) -> str:
        cfg = layer.config
        shape = tuple(cfg.get("batch_shape") or (None,))
        args = [f"batch_shape={shape!r}", f"dtype={cfg.get('dtype', 'float32')!r}",
                f"name={layer.name!r}"]
        return _call("keras.Input", args, indent, lead).lstrip()

    def sequential_body(self, model: KModel) -> list[str]:
        ind = " " * 8
        items = [self.input_line(x, ind) if x.class_name == "InputLayer"
                 else self.constructor(x, ind) for x in model.layers]
        body = "".join(f"{ind}{item},\n" for item in items)
        return [f"    return keras.Sequential([\n{body}    ], name={model.name!r})"]

    def functional_body(self, model: KModel) -> list[str]:
        names: dict[tuple[str, int], str] = {}
        used: set[str] = set(self.used)
        multi = _multi_output(model)
        lines = []

        def ref(r: TensorRef) -> str:
            var = names[(r.layer, r.node)]
            return f"{var}[{r.index}]" if (r.layer, r.node) in multi else var

        for layer in model.layers:
            if layer.class_name == "InputLayer":
                names[(layer.name, 0)] = identifier(layer.name, used)
                var = names[(layer.name, 0)]
                lines.append(f"    {var} = {self.input_line(layer, '    ', len(var) + 3)}")
                continue
            # room on the first line for "<name>_<k> = " (+ "keras.tree.flatten(") and "("
            flat = any((layer.name, i) in multi for i in range(len(layer.inbound)))
            head, extra = self.head(layer, len(layer.name) + 8 + 19 * flat)
            if len(layer.inbound) > 1:  # shared: one object, several calls
                obj = identifier(f"{layer.name}_layer", used)
                lines.append(f"    {obj} = {head}")
                head = obj
            for i, call in enumerate(layer.inbound):
                var = identifier(layer.name if i == 0 else f"{layer.name}_{i}", used)
                names[(layer.name, i)] = var
                args = [_render(a, ref) for a in call.args]
                args += [f"{k}={_render(v, ref)}" for k, v in call.kwargs.items()]
                call_line = _call(f"{var} = {head}", args + extra, "    ")
                if (layer.name, i) in multi:  # Keras numbers a call's outputs flattened
                    call_line = _call(f"{var} = keras.tree.flatten", [
                        _call(head, args + extra, "    ").strip()], "    ")
                lines.append(call_line)
        ins, outs = _render(model.inputs, ref), _render(model.outputs, ref)
        lines.append(_call("return keras.Model", [f"inputs={ins}", f"outputs={outs}",
                                                  f"name={model.name!r}"], "    "))
        return lines

    def head(self, layer: KLayer, lead: int = 0) -> tuple[str, list[str]]:
        """What a call applies: a layer's constructor, or a keras.ops function and its
        extra keyword arguments."""
        if not layer.is_operation:
            return self.constructor(layer, "    ", lead), []
        if layer.module.startswith("keras.src.activations"):  # ReLU, Mish
            fn = f"keras.activations.{layer.class_name.lower()}"
        else:
            fn = f"ops.{snake_case(layer.class_name)}"
            self.uses_ops = True
        return fn, [f"{k}={v!r}" for k, v in layer.config.items() if k != "name"]


def _multi_output(model: KModel) -> set[tuple[str, int]]:
    """Calls whose result is a list: some tensor is read at an index above 0, or the layer
    returns states/scores."""
    out = set()
    for layer in model.layers:
        for call in layer.inbound:
            for r in _refs(call.args) + _refs(call.kwargs):
                if r.index > 0:
                    out.add((r.layer, r.node))
        for i, call in enumerate(layer.inbound):
            if layer.config.get("return_state") or any(call.kwargs.get(k)
                                                       for k in _MULTI_KWARGS):
                out.add((layer.name, i))
            if layer.model is not None and isinstance(layer.model.outputs, list):
                out.add((layer.name, i))
    return out


def _refs(obj: Any) -> list[TensorRef]:
    if isinstance(obj, TensorRef):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [r for v in obj for r in _refs(v)]
    if isinstance(obj, dict):
        return [r for v in obj.values() for r in _refs(v)]
    return []


def _render(obj: Any, ref: Any) -> str:
    if isinstance(obj, TensorRef):
        return ref(obj)
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_render(v, ref) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k!r}: {_render(v, ref)}" for k, v in obj.items()) + "}"
    return repr(obj)


def model_code(model: KModel, weights_file: str, source: str = "") -> str:
    """The Python source that builds ``model`` with Keras 3 and loads ``weights_file``
    (a name beside the generated file)."""
    writer = _Writer()
    writer.used.add(model.name)
    top = writer.model_function(model)
    origin = f" from {os.path.basename(source)}" if source else ""
    header = [
        f'"""The Keras 3 model {model.name!r}, written by kerasport{origin}.',
        "",
        "build_model() builds it from keras.layers; load_model() also loads the weights",
        f'stored beside this file ({weights_file})."""',
        "", "import os", "", "import keras",
        "from keras import layers, ops" if writer.uses_ops else "from keras import layers", "",
        f"WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights_file!r})",
    ]
    footer = [
        f"def build_model():\n    \"\"\"The model, untrained.\"\"\"\n    return {top}()",
        "def load_model():\n    \"\"\"The model with its trained weights.\"\"\"\n"
        "    model = build_model()\n    model.load_weights(WEIGHTS)\n    return model",
        'if __name__ == "__main__":\n    load_model().summary()',
    ]
    return "\n".join(header) + "\n\n\n" + "\n\n\n".join(writer.functions + footer) + "\n"


def write_code(model: KModel, folder: str, source: str = "") -> tuple[str, str]:
    """Write ``<name>.py`` and ``<name>.weights.h5`` into ``folder``; their paths."""
    stem = identifier(model.name, set())
    py, weights = os.path.join(folder, f"{stem}.py"), os.path.join(folder,
                                                                   f"{stem}.weights.h5")
    with open(weights, "wb") as f:
        f.write(weights_h5(model))
    with open(py, "w", encoding="utf-8") as f:
        f.write(model_code(model, os.path.basename(weights), source))
    return py, weights
