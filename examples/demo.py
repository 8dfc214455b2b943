"""Demo: convert the bundled digits CNN without TensorFlow and check it against Keras.

Run with ``make demo``. Loads ``examples/digits_cnn.keras`` (trained by train_digits.py on
scikit-learn's digits), predicts the held-back test images with kerasport's NumPy runtime,
prints the accuracy next to the one Keras had and the max difference from Keras' own
probabilities, writes a bundle to ``out/`` and verifies it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import kerasport

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out"


def main() -> int:
    """Run the demo; exit 1 if the conversion does not match Keras."""
    x = np.load(HERE / "digits_test_x.npy", allow_pickle=False)
    y = np.load(HERE / "digits_test_y.npy", allow_pickle=False)
    keras_probs = np.load(HERE / "digits_keras_probs.npy", allow_pickle=False)
    keras_info = json.loads((HERE / "digits_keras.json").read_text())

    start = time.perf_counter()
    model = kerasport.load(HERE / "digits_cnn.keras")
    convert_s = time.perf_counter() - start
    print(f"loaded {HERE.name}/digits_cnn.keras in {convert_s * 1000:.0f} ms: {model}")

    start = time.perf_counter()
    probs = model.predict(x)
    predict_s = time.perf_counter() - start
    accuracy = float(np.mean(probs.argmax(axis=1) == y))
    parity = float(np.max(np.abs(probs - keras_probs)))
    agree = float(np.mean(probs.argmax(axis=1) == keras_probs.argmax(axis=1)))

    OUT.mkdir(exist_ok=True)
    bundle = OUT / "digits_cnn.npz"
    model.save(str(bundle))
    verify_err = kerasport.load(bundle).verify()

    print(f"test images:        {len(y)} held-back digits (8x8)")
    print(f"kerasport accuracy: {accuracy:.4f}  (NumPy runtime, {predict_s * 1000:.0f} ms)")
    print(f"keras accuracy:     {keras_info['test_accuracy']:.4f}  (Keras "
          f"{keras_info['keras_version']}, recorded at training)")
    print(f"parity:             max |kerasport - keras| = {parity:.2e} over all probabilities;"
          f" same top-1 class on {agree:.2%} of images")
    print(f"bundle:             {bundle.relative_to(HERE.parent)} "
          f"({bundle.stat().st_size / 1024:.0f} KiB), verify error {verify_err:.1e}")
    tf_loaded = any(m in sys.modules for m in ("tensorflow", "keras", "tf_keras"))
    print(f"tensorflow/keras imported: {'YES' if tf_loaded else 'no'}")
    ok = parity < 1e-4 and agree == 1.0 and not tf_loaded
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
