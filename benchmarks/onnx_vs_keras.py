"""kerasport's ONNX export against Keras' own ``model.export(format="onnx")`` (tf2onnx),
side by side in one run on the same machine, and writes docs/onnx_benchmark.md.

For each model: conversion time (kerasport: read the .keras file + write ONNX, no TensorFlow;
Keras: export from the in-memory model, which needs TensorFlow and tf2onnx), node count,
Transpose count, file size, and ONNX Runtime latency (median of repeated runs after warm-up,
the same thread count for both) at batch 1 and 32; plus the max difference of the two files'
outputs. Needs the ``bench`` extra (TensorFlow, Keras, tf2onnx, onnxruntime).

    python benchmarks/onnx_vs_keras.py [--threads 2] [--repeats 20]
"""

from __future__ import annotations

import argparse
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
    ]


def latencies(paths: list[str], x: np.ndarray, threads: int, repeats: int) -> list[float]:
    """Median ONNX Runtime latency in ms of each file, runs interleaved (A, B, A, B, ...) so
    that drifting machine load hits both alike."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sessions = [ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"]) for p in paths]
    feeds = [{s.get_inputs()[0].name: x} for s in sessions]
    for sess, feed in zip(sessions, feeds):
        for _ in range(3):
            sess.run(None, feed)
    times: list[list[float]] = [[] for _ in sessions]
    for _ in range(repeats):
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


def run_one(name, build, keras, workdir: Path, threads: int, repeats: int) -> dict:
    import onnxruntime as ort

    import kerasport
    from kerasport.export.onnx import export_onnx

    model = build()
    shape = tuple(model.inputs[0].shape[1:])
    x1 = np.random.default_rng(0).uniform(0, 255, (1, *shape)).astype(np.float32)
    x32 = np.random.default_rng(1).uniform(0, 255, (32, *shape)).astype(np.float32)
    model(x1)
    src = workdir / f"{name}.keras"
    model.save(src)
    ours, theirs = workdir / f"{name}_kerasport.onnx", workdir / f"{name}_keras.onnx"
    start = time.perf_counter()
    export_onnx(kerasport.load(src), str(ours))
    ours_s = time.perf_counter() - start
    row = {"model": name, "params": model.count_params(), "ours_s": ours_s,
           "ours_nodes": count(str(ours)), "ours_mb": ours.stat().st_size / 1e6}
    try:
        start = time.perf_counter()
        model.export(str(theirs), format="onnx", verbose=False)
        row["theirs_s"] = time.perf_counter() - start
        row["theirs_nodes"] = count(str(theirs))
        row["theirs_mb"] = theirs.stat().st_size / 1e6
        paths = [str(ours), str(theirs)]
        row["ours_b1"], row["theirs_b1"] = latencies(paths, x1, threads, repeats)
        row["ours_b32"], row["theirs_b32"] = latencies(paths, x32, threads, max(3, repeats // 4))
        outs = []
        for path in (ours, theirs):
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            outs.append(sess.run(None, {sess.get_inputs()[0].name: x1})[0])
        row["diff"] = float(np.max(np.abs(outs[0] - outs[1])) / max(1.0, np.max(np.abs(outs[1]))))
    except Exception as exc:  # Keras' own exporter fails on some models: record why
        row["theirs_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        row["ours_b1"] = latencies([str(ours)], x1, threads, repeats)[0]
        row["ours_b32"] = latencies([str(ours)], x32, threads, max(3, repeats // 4))[0]
    keras.backend.clear_session()
    return row


def render(rows: list[dict], threads: int) -> str:
    """docs/onnx_benchmark.md."""
    import onnxruntime as ort

    lines = [
        "# ONNX: kerasport vs Keras' own export",
        "",
        "Generated by `benchmarks/onnx_vs_keras.py` from one run; do not edit.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; ONNX Runtime "
        f"{ort.__version__}, {threads} intra-op threads for both files.",
        "kerasport = read the `.keras` file and write ONNX (no TensorFlow); Keras = "
        "`model.export(format='onnx')` from the model in memory (TensorFlow + tf2onnx).",
        "",
        "| model | params | convert s (kerasport / Keras) | speed-up | nodes | transposes |"
        " MB | batch 1 ms | batch 32 ms | max logit diff (relative) |",
        "|---|---:|---|---:|---|---|---|---|---|---:|",
    ]
    for r in rows:
        on, ot = r["ours_nodes"]
        if "theirs_error" in r:
            lines.append(
                f"| {r['model']} | {r['params']:,} | {r['ours_s']:.2f} / failed | | {on} / - |"
                f" {ot} / - | {r['ours_mb']:.1f} / - | {r['ours_b1']:.1f} / - | "
                f"{r['ours_b32']:.0f} / - | Keras' export failed: {r['theirs_error']} |")
            continue
        tn, tt = r["theirs_nodes"]
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['ours_s']:.2f} / {r['theirs_s']:.2f} | "
            f"{r['theirs_s'] / r['ours_s']:.0f}x | {on} / {tn} | {ot} / {tt} | "
            f"{r['ours_mb']:.1f} / {r['theirs_mb']:.1f} | {r['ours_b1']:.1f} / "
            f"{r['theirs_b1']:.1f} | {r['ours_b32']:.0f} / {r['theirs_b32']:.0f} | "
            f"{r['diff']:.1e} |")
    lines += ["", "Each pair is kerasport / Keras. Recurrent and attention models are not in "
              "kerasport's IR yet, so the LSTM and transformer rows are missing.", ""]
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark and write docs/onnx_benchmark.md."""
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    import keras

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in models(keras):
            row = run_one(name, build, keras, Path(tmp), args.threads, args.repeats)
            print(row, flush=True)
            rows.append(row)
    (ROOT / "docs" / "onnx_benchmark.md").write_text(render(rows, args.threads))
    print("wrote docs/onnx_benchmark.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
