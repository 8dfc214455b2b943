"""Full-integer (int8) TFLite files: kerasport's own quantization (no TensorFlow) side by side
with TensorFlow's converter in one run, and writes docs/tflite_int8_benchmark.md.

For each model and way: conversion time (kerasport: calibration on the NumPy runtime + the
writer + the int8 pass; TensorFlow: its converter in a worker process), file size, and, run
in LiteRT against kerasport's float32 runtime on the calibration samples: same top-1 class,
mean and max error, accuracy on the 450 held-back digits for the digits CNN, and the median
single-sample latency (1 thread). Needs the tflite extra (LiteRT) and, for the TensorFlow
rows, the tflite-tf extra.

    python benchmarks/tflite_int8.py [--models digits,LSTM]   # measure, save, render
    python benchmarks/tflite_int8.py --render                  # the page from saved results
    python benchmarks/tflite_int8.py --check                   # exit 1 if the page is stale
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from docpage import publish, save_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "tflite_int8_results.json"
DOC = ROOT / "docs" / "tflite_int8_benchmark.md"
EXAMPLES = ROOT / "examples"
# (label, converter, estimator, LSTM form, float fallback)
WAYS = {
    "digits": [("kerasport minmax", "kerasport", "minmax", "fused", False),
               ("kerasport percentile", "kerasport", "percentile", "fused", False),
               ("kerasport mse", "kerasport", "mse", "fused", False),
               ("TensorFlow", "tensorflow", "", "", False)],
    "MobileNetV2-96": [("kerasport minmax", "kerasport", "minmax", "fused", False),
                       ("kerasport mse", "kerasport", "mse", "fused", False),
                       ("TensorFlow", "tensorflow", "", "", False)],
    "LSTM": [("kerasport unrolled", "kerasport", "minmax", "unrolled", False),
             ("kerasport fused, LSTM float", "kerasport", "minmax", "fused", True),
             ("TensorFlow", "tensorflow", "", "", False)],
    "LSTM-text": [("kerasport unrolled", "kerasport", "minmax", "unrolled", False),
                  ("TensorFlow", "tensorflow", "", "", False)],
    "transformer": [("kerasport minmax", "kerasport", "minmax", "fused", False),
                    ("TensorFlow", "tensorflow", "", "", False)],
    "ResNet50-96": [("kerasport minmax", "kerasport", "minmax", "fused", False),
                    ("TensorFlow", "tensorflow", "", "", False)],
    "EfficientNetB0-96": [("kerasport minmax", "kerasport", "minmax", "fused", False),
                          ("TensorFlow", "tensorflow", "", "", False)],
}
APPS = {"MobileNetV2-96": "MobileNetV2", "ResNet50-96": "ResNet50",
        "EfficientNetB0-96": "EfficientNetB0"}


def transformer(keras):
    """One post-norm encoder block (4 heads of 32, relu FFN 256) over 100 tokens, pooled (as
    benchmarks/onnx_vs_keras.py)."""
    layers = keras.layers
    inp = keras.Input((100,), dtype="int32", name="tokens")
    x = layers.Embedding(20000, 128)(inp)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(4, 32)(x, x))
    f = layers.Dense(128)(layers.Dense(256, activation="relu")(x))
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization()(x + f))
    return keras.Model(inp, layers.Dense(2, name="logits")(x), name="small_transformer")


def build(name: str, workdir: Path) -> tuple[Path, list[np.ndarray], np.ndarray | None]:
    """The model file, calibration inputs and labels (digits only) of a benchmark model."""
    if name == "digits":
        return EXAMPLES / "digits_cnn.keras", [np.load(EXAMPLES / "digits_test_x.npy")], \
            np.load(EXAMPLES / "digits_test_y.npy")
    import keras
    from keras_models import randomize, save

    rng = np.random.default_rng(0)
    if name in APPS:  # random weights: logits, inputs as the model's preprocessing expects
        km = getattr(keras.applications, APPS[name])(weights=None, input_shape=(96, 96, 3),
                                                     classifier_activation=None)
        span = (0, 255) if name == "EfficientNetB0-96" else (-1, 1)
        x = rng.uniform(*span, (32, 96, 96, 3)).astype(np.float32)
    elif name == "LSTM":
        km = keras.Sequential([keras.Input((12, 4), name="seq"),
                               keras.layers.LSTM(16, name="lstm"),
                               keras.layers.Dense(5, activation="softmax", name="head")])
        x = rng.standard_normal((64, 12, 4)).astype(np.float32)
    elif name == "transformer":
        km = transformer(keras)
        x = rng.integers(1, 20000, (32, 100)).astype(np.int32)
    else:
        inp = keras.Input((100,), dtype="int32", name="tokens")
        h = keras.layers.LSTM(128)(keras.layers.Embedding(20000, 128)(inp))
        km = keras.Model(inp, keras.layers.Dense(2, name="logits")(h), name="lstm_text")
        x = rng.integers(1, 20000, (32, 100)).astype(np.int32)
    randomize(km)
    return save(km, workdir / f"{name}.keras"), [x], None


def run_way(way: tuple, path: Path, model, x, y, out: Path) -> dict:
    """One conversion and its check, as a result row."""
    from kerasport.errors import KerasportError
    from kerasport.export.tflite import export_tflite
    from kerasport.export.tflite.int8.export import export_int8
    from kerasport.export.tflite.options import TFLiteOptions

    label, converter, estimator, lstm, fallback = way
    row = {"way": label}
    try:
        if converter == "kerasport":
            r = export_int8(str(out), model, TFLiteOptions("int8"), x, y,
                            os.path.getsize(path), lstm, estimator,
                            "float" if fallback else "error")
        else:
            r = export_tflite(str(path), str(out), model, TFLiteOptions("int8"), x, y)
    except (KerasportError, OSError) as exc:
        row["error"] = str(exc).replace(str(path), path.name).splitlines()[0].split(";")[0]
        return row
    c = r.check
    row.update(seconds=round(r.seconds, 2), size=r.size)
    if c is not None:
        row.update(top1=c.top1_agreement, mean_error=c.mean_abs_error, max_error=c.max_error,
                   accuracy=c.accuracy, float_accuracy=c.float_accuracy,
                   latency_ms=round(c.latency_ms, 4))
    return row


def measure(names: list[str]) -> dict:
    """Every way of every named model."""
    import kerasport

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in names:
            path, x, y = build(name, work)
            model = kerasport.load(path)
            out[name] = [run_way(w, path, model, x, y, work / f"{name}-{i}.tflite")
                         for i, w in enumerate(WAYS[name])]
            for row in out[name]:
                print(name, json.dumps(row))
    return out


def _cell(row: dict, key: str, fmt: str) -> str:
    v = row.get(key)
    return "" if v is None else format(v, fmt)


def render(saved: dict) -> str:
    """The page, from the saved results."""
    lines = ["# Full-integer TFLite: kerasport vs TensorFlow's converter", "",
             "Generated by `benchmarks/tflite_int8.py` from `benchmarks/tflite_int8_results.json`"
             " (do not edit by hand).", "",
             f"Machine: {saved.get('machine', '?')}. Errors are against kerasport's float32 "
             "runtime on the calibration samples; latency is LiteRT's median single-sample "
             "invoke (1 thread).", ""]
    for name, rows in saved["models"].items():
        lines += [f"## {name}", "",
                  "| way | convert s | size KB | top-1 = float | mean error | max error | "
                  "accuracy (float) | latency ms |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['way']} | failed: {r['error']} | | | | | | |")
                continue
            acc = "" if r.get("accuracy") is None else \
                f"{r['accuracy']:.2%} ({r['float_accuracy']:.2%})"
            lines.append(f"| {r['way']} | {_cell(r, 'seconds', '.2f')} | "
                         f"{r['size'] / 1e3:.1f} | {_cell(r, 'top1', '.1%')} | "
                         f"{_cell(r, 'mean_error', '.2e')} | {_cell(r, 'max_error', '.2e')} | "
                         f"{acc} | {_cell(r, 'latency_ms', '.3f')} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Measure (or only render / check) and write the page."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", help=f"comma-separated subset of {', '.join(WAYS)}")
    p.add_argument("--render", action="store_true", help="render the saved results only")
    p.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = p.parse_args()
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"models": {}}
    if not (args.render or args.check):
        names = args.models.split(",") if args.models else list(WAYS)
        saved["models"].update(measure(names))
        saved["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, Python " \
                           f"{platform.python_version()}"
        save_json(RESULTS, saved)
    return publish(DOC, render(saved), args.check, "python benchmarks/tflite_int8.py --render")


if __name__ == "__main__":
    sys.exit(main())
