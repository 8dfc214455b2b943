"""The ONNX reader's speed, side by side in one run: kerasport's NumPy runtime on models read
from ONNX files against ``onnx.reference.ReferenceEvaluator`` (ONNX's pure-Python runtime, the
peer kerasport must beat by 10x) and ONNX Runtime, on PyTorch models exported with
torch.onnx.export. Best latency of repeated runs after a warm-up, batch 1 and 16, every engine
limited to the same thread count; plus the import time and the error against torch. Saves
benchmarks/onnx_reader_results.json and renders the table inside docs/onnx-reader.md (between
the onnx-reader-bench markers). Needs torch, torchvision, onnx and onnxruntime.

    python benchmarks/onnx_reader.py [--threads 1] [--repeats 5]
    python benchmarks/onnx_reader.py --render   # the table from the saved results only
    python benchmarks/onnx_reader.py --check    # exit 1 if the table is stale
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "src"), str(ROOT / "tests")]

from docpage import between, publish, save_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "onnx_reader_results.json"
DOC = ROOT / "docs" / "onnx-reader.md"
START, END = "<!-- onnx-reader-bench:start -->", "<!-- onnx-reader-bench:end -->"
MODELS = ("mobilenet_v3_small", "resnet18", "transformer", "lstm", "gru")
BATCHES = (1, 16)
COMMAND = "python benchmarks/onnx_reader.py --render"


def _best_ms(fn, repeats: int) -> float:
    """The fastest of ``repeats`` runs after a warm-up (the machine is shared: the minimum is
    the figure least disturbed by other work)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def measure(name: str, folder: Path, threads: int, repeats: int, batch: int) -> dict:
    """One row: latencies (ms) of the three engines at ``batch``, import time, error."""
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator
    from onnx_torch_models import export
    from threadpoolctl import threadpool_limits

    import kerasport

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path, x, y = export(name, folder, batch=batch)
    start = time.perf_counter()
    model = kerasport.load(path)
    load_s = time.perf_counter() - start
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = threads
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    reference = ReferenceEvaluator(str(path))
    with threadpool_limits(threads):
        ours = _best_ms(lambda: model(x), repeats)
        ref = _best_ms(lambda: reference.run(None, {"x": x}), max(1, repeats // 2))
    onnxruntime = _best_ms(lambda: session.run(None, {"x": x}), repeats)
    err = float(np.abs(model(x) - y).max() / np.abs(y).max())
    return {"model": name, "batch": batch, "ops": len(model.graph.nodes),
            "transposes": sum(n.op == "Transpose" for n in model.graph.nodes),
            "load_s": round(load_s, 3), "kerasport_ms": round(ours, 3),
            "reference_ms": round(ref, 3), "onnxruntime_ms": round(onnxruntime, 3),
            "error_vs_torch": err}


def render(data: dict) -> str:
    """The markdown table."""
    env = data["env"]
    lines = [f"{env['threads']} thread(s) per engine, best of {env['repeats']} "
             f"runs after a warm-up; {env['machine']}, Python {env['python']}, onnx "
             f"{env['onnx']}, onnxruntime {env['onnxruntime']}, torch {env['torch']}. "
             "Rendered by `benchmarks/onnx_reader.py` from "
             "`benchmarks/onnx_reader_results.json`.", "",
             "| model | batch | IR ops | layout transposes | read (s) | kerasport NumPy (ms) | "
             "ReferenceEvaluator (ms) | kerasport speed-up | ONNX Runtime (ms) | "
             "kerasport / ORT time | max error vs torch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['ops']} | {r['transposes']} | {r['load_s']:.2f} | "
            f"{r['kerasport_ms']:.2f} | {r['reference_ms']:.1f} | "
            f"{r['reference_ms'] / r['kerasport_ms']:.0f}x | {r['onnxruntime_ms']:.2f} | "
            f"{r['kerasport_ms'] / r['onnxruntime_ms']:.1f}x | {r['error_vs_torch']:.1e} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not (args.render or args.check):
        import onnx
        import onnxruntime
        import torch

        with tempfile.TemporaryDirectory() as tmp:
            rows = [measure(m, Path(tmp), args.threads, args.repeats, b)
                    for b in BATCHES for m in MODELS]
        env = {"threads": args.threads, "repeats": args.repeats, "python":
               platform.python_version(), "machine": f"{platform.machine()}, "
               f"{os.cpu_count()} cores (shared)", "onnx": onnx.__version__,
               "onnxruntime": onnxruntime.__version__, "torch": torch.__version__.split("+")[0]}
        save_json(RESULTS, {"env": env, "rows": rows})
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    text = between(DOC.read_text(encoding="utf-8"), START, END, render(data))
    return publish(DOC, text, args.check, COMMAND)


if __name__ == "__main__":
    sys.exit(main())
