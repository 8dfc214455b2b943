"""Every way Keras stores a model, written by the real frameworks for tests/test_readers_keras.py.

Each form function saves an already built model into ``directory`` and returns the arguments
for ``kerasport.load`` as ``(path, weights)``. Forms that keep the architecture in a full model
file (.keras/.h5) save it before the weights are randomised, so a match with Keras proves the
weights came from the separate weights file.
"""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Form = Callable[[Any, Path], tuple[str, str | None]]


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def savedmodel(model: Any, d: Path) -> tuple[str, str | None]:
    """tf_keras ``model.save(dir)``: keras_metadata.pb + variables/."""
    _quiet(lambda: model.save(str(d / "sm"), save_format="tf"))
    return str(d / "sm"), None


def as_tf24_savedmodel(source: str, d: Path) -> tuple[str, str | None]:
    """A copy of a SavedModel laid out as TF 2.0-2.4 wrote it: the Keras metadata of each
    object inside saved_model.pb (SavedUserObject.metadata), no keras_metadata.pb. Written
    with TensorFlow's and tf_keras' own protobuf classes."""
    import shutil

    from tensorflow.core.protobuf import saved_model_pb2
    from tf_keras.protobuf import saved_metadata_pb2

    target = d / "sm24"
    shutil.copytree(source, target)
    meta = saved_metadata_pb2.SavedMetadata()
    meta.ParseFromString((target / "keras_metadata.pb").read_bytes())
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((target / "saved_model.pb").read_bytes())
    nodes = saved.meta_graphs[0].object_graph_def.nodes
    for entry in meta.nodes:
        nodes[entry.node_id].user_object.metadata = entry.metadata
    (target / "saved_model.pb").write_bytes(saved.SerializeToString())
    (target / "keras_metadata.pb").unlink()
    return str(target), None


def json_ckpt(model: Any, d: Path) -> tuple[str, str | None]:
    """``to_json()`` + tf_keras ``save_weights(prefix)`` (a TF-format checkpoint)."""
    (d / "model.json").write_text(model.to_json())
    _quiet(lambda: model.save_weights(str(d / "ckpt" / "w")))
    return str(d / "model.json"), str(d / "ckpt" / "w.index")


def json_h5(model: Any, d: Path) -> tuple[str, str | None]:
    """``to_json()`` + Keras 2 ``save_weights("w.h5")`` (layer_names / weight_names)."""
    (d / "model.json").write_text(model.to_json())
    _quiet(lambda: model.save_weights(str(d / "w.h5")))
    return str(d / "model.json"), str(d / "w.h5")


def json_weights_h5(model: Any, d: Path) -> tuple[str, str | None]:
    """``to_json()`` + ``save_weights("w.weights.h5")`` (Keras 3, tf_keras 2.13+)."""
    (d / "model.json").write_text(model.to_json())
    _quiet(lambda: model.save_weights(str(d / "w.weights.h5")))
    return str(d / "model.json"), str(d / "w.weights.h5")


def json_keras(model: Any, d: Path) -> tuple[str, str | None]:
    """``to_json()`` + the weights of a whole .keras model."""
    (d / "model.json").write_text(model.to_json())
    _quiet(lambda: model.save(str(d / "weights.keras")))
    return str(d / "model.json"), str(d / "weights.keras")


def tfjs(model: Any, d: Path) -> tuple[str, str | None]:
    """tensorflowjs' converter (layers model: model.json + group1-shard*.bin)."""
    save = tfjs_saver()
    _quiet(lambda: save(model, str(d / "tfjs")))
    return str(d / "tfjs" / "model.json"), None


def tfjs_saver() -> Callable[[Any, str], None]:
    """tensorflowjs' save_keras_model. The package is installed without its dependencies
    (tensorflow_decision_forests, tensorflow_hub, jax are not needed by the Keras converter):
    empty stand-ins let it import."""
    for name in ("tensorflow_decision_forests", "tensorflow_hub",
                 "tensorflowjs.converters.jax_conversion"):
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                stub = types.ModuleType(name)
                stub.convert_jax = None  # type: ignore[attr-defined]
                sys.modules[name] = stub
    mod = pytest.importorskip("tensorflowjs.converters.keras_h5_conversion")
    return mod.save_keras_model


# architecture file (written before randomising) + weights file, per flavour
ARCH_FIRST = {"k2": {"keras+ckpt": ("keras", "ckpt"), "h5+h5": ("h5", "h5")},
              "k3": {"keras+weights.h5": ("keras", "weights.h5"),
                     "h5+weights.h5": ("h5", "weights.h5")}}


def arch_file(model: Any, d: Path, kind: str) -> str:
    """The architecture (with the weights it has now) as a .keras or .h5 model."""
    path = d / f"arch.{kind}"
    _quiet(lambda: model.save(str(path)))
    return str(path)


def weights_file(model: Any, d: Path, kind: str) -> str:
    """The model's weights alone: a TF checkpoint, a Keras 2 .h5 or a .weights.h5."""
    if kind == "ckpt":
        _quiet(lambda: model.save_weights(str(d / "ckpt" / "w")))
        return str(d / "ckpt" / "w")
    path = d / ("w.h5" if kind == "h5" else "w.weights.h5")
    _quiet(lambda: model.save_weights(str(path)))
    return str(path)


K2_FORMS: dict[str, Form] = {"savedmodel": savedmodel, "json+ckpt": json_ckpt,
                             "json+h5": json_h5, "json+weights.h5": json_weights_h5,
                             "tfjs": tfjs}
K3_FORMS: dict[str, Form] = {"json+weights.h5": json_weights_h5, "json+keras": json_keras}
