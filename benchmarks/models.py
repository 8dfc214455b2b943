"""The benchmarked models, built with Keras (random weights) and saved as .keras files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits_cnn.keras"


def _mlp(keras: Any) -> Any:
    x = keras.Input((784,), name="pixels")
    h = keras.layers.Dense(512, activation="relu")(x)
    h = keras.layers.Dense(512, activation="relu")(h)
    return keras.Model(x, keras.layers.Dense(10, activation="softmax")(h), name="mlp")


def _lstm(keras: Any) -> Any:
    x = keras.Input((100,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(10000, 64)(x)
    h = keras.layers.LSTM(128)(h)
    return keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(h), name="lstm_text")


def _transformer(keras: Any) -> Any:
    layers = keras.layers
    x = keras.Input((64,), dtype="int32", name="tokens")
    h = layers.Embedding(5000, 64)(x)
    a = layers.MultiHeadAttention(num_heads=4, key_dim=16)(h, h)
    h = layers.LayerNormalization()(layers.Add()([h, a]))
    f = layers.Dense(128, activation="relu")(h)
    f = layers.Dense(64)(f)
    h = layers.LayerNormalization()(layers.Add()([h, f]))
    h = layers.GlobalAveragePooling1D()(h)
    return keras.Model(x, layers.Dense(2, activation="softmax")(h), name="small_transformer")


def _app(name: str) -> Callable[[Any], Any]:
    # logits, not softmax: with random weights the probabilities are all but uniform, which
    # would make the error column meaningless
    return lambda keras: getattr(keras.applications, name)(
        weights=None, input_shape=(224, 224, 3), classifier_activation=None)


BUILDERS: dict[str, Callable[[Any], Any] | None] = {
    "mlp": _mlp,
    "small_cnn": None,  # the example digits CNN, a real trained model
    "mobilenetv2": _app("MobileNetV2"),
    "resnet50": _app("ResNet50"),
    "efficientnetb0": _app("EfficientNetB0"),
    "lstm": _lstm,
    "transformer": _transformer,
}
TITLES = {"mlp": "MLP 784-512-512-10", "small_cnn": "small CNN (examples/digits_cnn.keras)",
          "mobilenetv2": "MobileNetV2 224x224", "resnet50": "ResNet50 224x224",
          "efficientnetb0": "EfficientNetB0 224x224",
          "lstm": "LSTM text model (Embedding 10000x64, LSTM 128, 100 tokens)",
          "transformer": "small transformer (Embedding, 4-head attention, FFN, 64 tokens)"}


def model_file(name: str, cache: Path) -> Path:
    """The .keras file of ``name``, built (and cached in ``cache``) if needed."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{name}.keras"
    if path.exists():
        return path
    build = BUILDERS[name]
    if build is None:
        shutil.copyfile(DIGITS, path)
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    tmp = cache / f".{name}.tmp.keras"
    build(keras).save(tmp)
    os.replace(tmp, path)
    return path
