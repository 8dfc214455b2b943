"""kerasport's ONNX export against Keras' own ``model.export(format="onnx")`` (tf2onnx),
side by side in one run on the same machine, and writes docs/onnx_benchmark.md.

For each model: conversion time (kerasport: read the .keras file + write ONNX, no TensorFlow;
Keras: export from the in-memory model, which needs TensorFlow and tf2onnx), node count,
Transpose count, file size, and ONNX Runtime latency (median of repeated runs after warm-up,
the same thread count for both) at batch 1 and 32; plus the max difference of the two files'
outputs. Needs the ``bench`` extra (TensorFlow, Keras, tf2onnx, onnxruntime).

    python benchmarks/onnx_vs_keras.py [--threads 2] [--repeats 20] [--models LSTM-text,...]
    python benchmarks/onnx_vs_keras.py --render   # the page from the saved results only
    python benchmarks/onnx_vs_keras.py --check    # exit 1 if the page is stale

The figures are saved in benchmarks/onnx_results.json and the page is rendered from them;
``--models`` reruns only the named rows and keeps the other saved rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from docpage import publish, save_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "onnx_results.json"
DOC = ROOT / "docs" / "onnx_benchmark.md"


def lstm_text(keras):
    """Embedding(20000, 128) + LSTM(128) + Dense(2) over 100 tokens."""
    inp = keras.Input((100,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20000, 128)(inp)
    x = keras.layers.LSTM(128)(x)
    return keras.Model(inp, keras.layers.Dense(2, name="logits")(x), name="lstm_text")


def bilstm_masked(keras):
    """Embedding(mask_zero) + Bidirectional(LSTM(64)) + Dense(2): padded text."""
    inp = keras.Input((100,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20000, 128, mask_zero=True)(inp)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    return keras.Model(inp, keras.layers.Dense(2, name="logits")(x), name="bilstm_masked")


def transformer(keras):
    """One post-norm encoder block (4 heads of 32, relu FFN 256) over 100 tokens, pooled
    (relu: tf2onnx cannot convert the Erfc of an exact gelu)."""
    layers = keras.layers
    inp = keras.Input((100,), dtype="int32", name="tokens")
    x = layers.Embedding(20000, 128)(inp)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(4, 32)(x, x))
    f = layers.Dense(128)(layers.Dense(256, activation="relu")(x))
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization()(x + f))
    return keras.Model(inp, layers.Dense(2, name="logits")(x), name="small_transformer")


def models(keras):
    """(name, builder) of the benchmarked models."""
    return [
        ("MobileNetV2", lambda: keras.applications.MobileNetV2(
            weights=None, classifier_activation=None)),
        ("ResNet50", lambda: keras.applications.ResNet50(weights=None,
                                                         classifier_activation=None)),
        ("EfficientNetB0", lambda: keras.applications.EfficientNetB0(
            weights=None, classifier_activation=None)),
        ("ConvNeXtTiny", lambda: keras.applications.ConvNeXtTiny(
            weights=None, classifier_activation=None)),
        ("LSTM-text", lambda: lstm_text(keras)),
        ("BiLSTM-text-masked", lambda: bilstm_masked(keras)),
        ("Transformer-small", lambda: transformer(keras)),
    ]


def sample(model, batch: int, seed: int) -> np.ndarray:
    """Random input: pixel values in 0..255, or token ids below the Embedding's vocabulary."""
    rng = np.random.default_rng(seed)
    shape = (batch, *model.inputs[0].shape[1:])
    if "int" in str(model.inputs[0].dtype):
        vocab = min(int(layer.input_dim) for layer in model.layers
                    if type(layer).__name__ == "Embedding")
        ids = rng.integers(1, vocab, shape)
        lengths = rng.integers(shape[1] // 4, shape[1] + 1, batch)  # padded with 0 at the end
        ids[np.arange(shape[1]) >= lengths[:, None]] = 0
        return ids.astype(np.int32)
    return rng.uniform(0, 255, shape).astype(np.float32)


def latencies(paths: list[str], x: np.ndarray, threads: int, repeats: int,
              budget_s: float = 3.0) -> list[float]:
    """Median ONNX Runtime latency in ms of each file, runs interleaved (A, B, A, B, ...) so
    that drifting machine load hits both alike: at least ``repeats`` rounds (3 for models
    slower than the budget allows), more for fast models, up to ``budget_s`` per file."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sessions = [ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"]) for p in paths]
    feeds = [{s.get_inputs()[0].name: x} for s in sessions]
    slowest = 0.0
    for sess, feed in zip(sessions, feeds):
        for _ in range(3):
            start = time.perf_counter()
            sess.run(None, feed)
        slowest = max(slowest, time.perf_counter() - start)
    rounds = max(min(repeats, int(budget_s / slowest)), int(budget_s / slowest / 2), 3)
    times: list[list[float]] = [[] for _ in sessions]
    for _ in range(min(rounds, 2000)):
        for i, (sess, feed) in enumerate(zip(sessions, feeds)):
            start = time.perf_counter()
            sess.run(None, feed)
            times[i].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times]


def count(path: str) -> tuple[int, int]:
    """(nodes, transposes) of an ONNX file."""
    import onnx

    graph = onnx.load(path).graph
    return len(graph.node), sum(n.op_type == "Transpose" for n in graph.node)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


def run_one(name, build, keras, workdir: Path, threads: int, repeats: int) -> dict:
    """Convert ``build()`` both ways and measure; a side that fails records why."""
    import onnxruntime as ort

    import kerasport
    from kerasport.export.onnx import export_onnx
    from kerasport.metrics import max_relative_error

    model = build()
    x1, x32 = sample(model, 1, 0), sample(model, 32, 1)
    model(x1)
    src = workdir / f"{name}.keras"
    model.save(src)
    ours, theirs = workdir / f"{name}_kerasport.onnx", workdir / f"{name}_keras.onnx"
    row = {"model": name, "params": model.count_params()}
    files = {}
    try:
        gc.collect()  # neither conversion pays for collecting the other's garbage
        start = time.perf_counter()
        export_onnx(kerasport.load(src), str(ours))
        row["ours_s"] = time.perf_counter() - start
        row.update(ours_nodes=count(str(ours)), ours_mb=ours.stat().st_size / 1e6)
        files["ours"] = str(ours)
    except Exception as exc:  # an op without an ONNX mapping yet
        row["ours_error"] = _error(exc)
    try:
        gc.collect()
        start = time.perf_counter()
        model.export(str(theirs), format="onnx", verbose=False)
        row["theirs_s"] = time.perf_counter() - start
        sess = ort.InferenceSession(str(theirs), providers=["CPUExecutionProvider"])
        sess.run(None, {sess.get_inputs()[0].name: x1})  # some of its files load but fail here
        row.update(theirs_nodes=count(str(theirs)), theirs_mb=theirs.stat().st_size / 1e6)
        files["theirs"] = str(theirs)
    except Exception as exc:  # Keras' own exporter fails on some models
        row["theirs_error"] = _error(exc)
    if files:
        for batch, x, n in ((1, x1, repeats), (32, x32, repeats)):
            for side, ms in zip(files, latencies(list(files.values()), x, threads, n)):
                row[f"{side}_b{batch}"] = ms
    if len(files) == 2:
        outs = []
        for path in files.values():
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            outs.append(sess.run(None, {sess.get_inputs()[0].name: x1})[0])
        row["diff"] = max_relative_error([outs[0]], [outs[1]])
    keras.backend.clear_session()
    return row


def _pair(r: dict, key: str, fmt: str) -> str:
    a, b = r.get(f"ours_{key}"), r.get(f"theirs_{key}")
    return " / ".join("-" if v is None else format(v, fmt) for v in (a, b))


def render_row(r: dict) -> str:
    """One table line: every figure as kerasport / Keras, '-' where a side failed."""
    on, ot = r.get("ours_nodes", (None, None))
    tn, tt = r.get("theirs_nodes", (None, None))
    nodes = " / ".join("-" if v is None else str(v) for v in (on, tn))
    transposes = " / ".join("-" if v is None else str(v) for v in (ot, tt))
    speedup = (f"{r['theirs_s'] / r['ours_s']:.0f}x" if "ours_s" in r and "theirs_s" in r
               and "theirs_error" not in r else "")
    convert = " / ".join("failed" if v is None else f"{v:.2f}"
                         for v in (r.get("ours_s"), r.get("theirs_s")))
    notes = [f"{who} export failed: {r[key]}" for who, key in (
        ("kerasport", "ours_error"), ("Keras'", "theirs_error")) if key in r]
    last = f"{r['diff']:.1e}" if "diff" in r else "; ".join(notes)
    return (f"| {r['model']} | {r['params']:,} | {convert} | {speedup} | {nodes} | "
            f"{transposes} | {_pair(r, 'mb', '.1f')} | {_pair(r, 'b1', '.1f')} | "
            f"{_pair(r, 'b32', '.0f')} | {last} |")


def render(saved: dict) -> str:
    """docs/onnx_benchmark.md from the saved results (benchmarks/onnx_results.json): the
    machine, ONNX Runtime version, threads and load, and a row per model, either the figures
    measured or (``line``) a table line kept from a page written before results were saved."""
    load = saved.get("load")
    lines = [
        "# ONNX: kerasport vs Keras' own export",
        "",
        "Generated by `benchmarks/onnx_vs_keras.py`; do not edit (rows rerun with `--models` "
        "keep the others from the previous run).",
        f"Machine: {saved['machine']}, {saved['cores']} cores; ONNX Runtime "
        f"{saved['onnxruntime']}, {saved['threads']} intra-op threads for both files"
        + (f"; 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
           "(latencies are absolute only on an idle machine; the pairs are interleaved, so "
           "they compare)." if load else "."),
        "kerasport = read the `.keras` file and write ONNX (no TensorFlow); Keras = "
        "`model.export(format='onnx')` from the model in memory (TensorFlow + tf2onnx).",
        "",
        "| model | params | convert s (kerasport / Keras) | speed-up | nodes | transposes |"
        " MB | batch 1 ms | batch 32 ms | max logit diff (relative) |",
        "|---|---:|---|---:|---|---|---|---|---|---:|",
    ]
    lines += [r["line"] if "line" in r else render_row(r) for r in saved["rows"]]
    lines += ["", "Each pair is kerasport / Keras. Recurrent layers are the native ONNX "
              "LSTM/GRU/RNN ops, run time-major (ONNX Runtime has no batch-major layout), so "
              "the one Transpose of an Embedding + LSTM model is on the int token ids.", ""]
    return "\n".join(lines)


def warm_up() -> None:
    """Import both converters (one small conversion) before anything is timed, so that
    neither conversion time counts Python imports."""
    import contextlib

    import kerasport
    from kerasport.export.onnx import to_onnx

    to_onnx(kerasport.load(ROOT / "examples" / "digits_cnn.keras"))
    with contextlib.suppress(ImportError):
        import tf2onnx  # noqa: F401  (Keras' exporter imports it on first use)


def measure(args: argparse.Namespace, p: argparse.ArgumentParser) -> dict:
    """Run the models (all, or ``--models``, keeping the other saved rows); the results to
    save."""
    import keras
    import onnxruntime as ort

    warm_up()
    table = models(keras)
    names = [name for name, _ in table]
    only = [m for m in args.models.split(",") if m]
    unknown = sorted(set(only) - set(names))
    if unknown:
        p.error(f"unknown models {unknown}: choose from {', '.join(names)}")
    old = {r["model"]: r for r in json.loads(RESULTS.read_text())["rows"]} \
        if only and RESULTS.exists() else {}
    rows = []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in table:
            if only and name not in only:
                if name in old:
                    rows.append(old[name])
                continue
            row = run_one(name, build, keras, Path(tmp), args.threads, args.repeats)
            print(row, flush=True)
            rows.append(row)
    return {"machine": platform.machine(), "cores": os.cpu_count(),
            "onnxruntime": ort.__version__, "threads": args.threads,
            "load": [load_start, os.getloadavg()[0]], "rows": rows}


def main() -> int:
    """Run the benchmark, save benchmarks/onnx_results.json and write docs/onnx_benchmark.md
    (or only render / check the page from the saved results)."""
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--models", default="",
                   help="comma-separated names to rerun; the other rows are kept")
    p.add_argument("--render", action="store_true",
                   help="write the page from benchmarks/onnx_results.json, nothing run")
    p.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = p.parse_args()
    if args.render or args.check:
        saved = json.loads(RESULTS.read_text(encoding="utf-8"))
    else:
        saved = measure(args, p)
        save_json(RESULTS, saved)
    return publish(DOC, render(saved), args.check,
                   "python benchmarks/onnx_vs_keras.py --render")


if __name__ == "__main__":
    sys.exit(main())
