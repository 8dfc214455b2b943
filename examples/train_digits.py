"""Train the example model bundled with kerasport: a small CNN on scikit-learn's digits.

Run from the repository root with the ``train`` extra installed (TensorFlow, Keras 3,
scikit-learn)::

    python examples/train_digits.py

Writes, next to this file: ``digits_cnn.keras`` (the model), ``digits_test_x.npy`` and
``digits_test_y.npy`` (the held-back test images and labels), ``digits_keras_probs.npy``
(Keras' own probabilities on them) and ``digits_keras.json`` (Keras' accuracy and versions).
``make demo`` then checks kerasport against these without TensorFlow.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
SEED = 0
EPOCHS = 40


def load_data():
    """Digits scaled to [0, 1] as (N, 8, 8, 1) float32, split 75/25 (stratified, seeded)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)


def build_model(keras):
    """A small CNN made only of layers every kerasport target supports."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        layers.Conv2D(16, 3, padding="same", name="conv1"),
        layers.BatchNormalization(name="bn1"),
        layers.ReLU(name="relu1"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(name="pool"),
        layers.Dropout(0.25, name="dropout1"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="dense"),
        layers.Dropout(0.25, name="dropout2"),
        layers.Dense(10, activation="softmax", name="probs"),
    ], name="digits_cnn")


def main() -> None:
    """Train, evaluate with Keras, and save the model and test data."""
    import keras

    keras.utils.set_random_seed(SEED)
    x_train, x_test, y_train, y_test = load_data()
    model = build_model(keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.time()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    seconds = time.time() - start
    probs = model.predict(x_test, verbose=0).astype(np.float32)
    accuracy = float(np.mean(probs.argmax(axis=1) == y_test))
    model.save(HERE / "digits_cnn.keras")
    np.save(HERE / "digits_test_x.npy", x_test)
    np.save(HERE / "digits_test_y.npy", y_test)
    np.save(HERE / "digits_keras_probs.npy", probs)
    info = {"keras_version": keras.__version__, "test_accuracy": accuracy,
            "n_test": int(len(y_test)), "epochs": EPOCHS, "train_seconds": round(seconds, 1)}
    (HERE / "digits_keras.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(info))


if __name__ == "__main__":
    main()
