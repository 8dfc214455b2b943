"""The LSTM text model of benchmarks/tflite_writer.py in every form kerasport's TFLite writer
has (``--tflite-lstm loop|fused|unrolled``) against TensorFlow's converter, in LiteRT; writes
docs/tflite_lstm.md from the saved results.

For float32, float16 and dynamic: the four files are timed in one process, in alternating
blocks of 5 runs (2 threads, batch 1; median and fastest run), with each file's operators per
subgraph and its max error against Keras on 8 random inputs.

    python benchmarks/tflite_lstm.py --measure   # run, save, render
    python benchmarks/tflite_lstm.py             # the page from the saved results only
    python benchmarks/tflite_lstm.py --check     # exit 1 if docs/tflite_lstm.md is stale

Needs the ``bench`` extra plus flatbuffers (TensorFlow, Keras, ai-edge-litert).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from docpage import publish, save_json  # noqa: E402
from tflite_writer import (  # noqa: E402
    MODE_NAMES,
    MODES,
    SAMPLES,
    convert_tensorflow,
    error,
    latencies,
    model_file,
    outputs,
    sample,
)

RESULTS = ROOT / "benchmarks" / "tflite_lstm_results.json"
DOC = ROOT / "docs" / "tflite_lstm.md"
FORMS = ("loop", "fused", "unrolled")


def op_counts(content: bytes) -> list[str]:
    """Per subgraph, its operators as 'NAME xK' (in order of first use)."""
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(content, 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    codes = [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in model.operatorCodes]
    out = []
    for g in model.subgraphs:
        counts = Counter(codes[op.opcodeIndex] for op in g.operators)
        out.append(", ".join(f"{k} x{v}" if v > 1 else k for k, v in counts.items()))
    return out


def run_mode(path: Path, model: Any, mode: str, inputs: list, want: np.ndarray,
             args: argparse.Namespace) -> dict:
    """Every file of one mode: sizes, errors, operators, latencies timed together."""
    from kerasport.export.tflite.writer import write_tflite

    files = {f"kerasport {f}": write_tflite(model, quantize=mode, lstm=f) for f in FORMS}
    files["tensorflow"] = convert_tensorflow(path, model, mode, 1)[0]
    rows = {}
    for name, content in files.items():
        rows[name] = {"size": len(content), "ops": op_counts(content),
                      "error": error(outputs(content, model.input_names, inputs), want)}
    timed = latencies(list(files.values()), model.input_names, inputs, args.threads,
                      args.repeats)
    for name, (median, best) in zip(files, timed):
        rows[name].update(latency_ms=median, best_ms=best)
    print(mode, {k: (round(v["latency_ms"], 3), round(v["best_ms"], 3)) for k, v in
                 rows.items()}, flush=True)
    return {"mode": MODE_NAMES[mode], "files": rows}


def measure(args: argparse.Namespace) -> dict:
    """The results to save."""
    import ai_edge_litert
    import keras
    import tensorflow as tf

    import kerasport

    path = model_file("lstm", Path(args.cache))
    model = kerasport.load(str(path))
    inputs = sample(model, SAMPLES)
    want = np.asarray(keras.models.load_model(path, compile=False).predict(inputs[0],
                                                                            verbose=0))
    load = [os.getloadavg()[0]]
    modes = [run_mode(path, model, m, inputs, want, args) for m in MODES]
    load.append(os.getloadavg()[0])
    return {"cores": os.cpu_count(), "threads": args.threads, "repeats": args.repeats,
            "tensorflow": tf.__version__, "litert": getattr(ai_edge_litert, "__version__", "?"),
            "load": load, "modes": modes}


WHY = [
    "## Why the fused op was slower, and what the loop does", "",
    "UNIDIRECTIONAL_SEQUENCE_LSTM runs in LiteRT's own LSTM kernel, which the XNNPACK delegate "
    "does not take: per time step it computes each gate with its own input and recurrent "
    "matrix-vector products (eight per step), and its latency here was the same with 1 or 2 "
    "threads and with the XNNPACK delegate switched off (checked while writing the loop; "
    "TensorFlow's file takes about twice as long with XNNPACK off). TensorFlow's converter "
    "writes a Keras 3 LSTM as a WHILE loop whose body (two FULLY_CONNECTED with the four gates "
    "stacked, SPLIT, LOGISTIC/TANH, MUL/ADD) LiteRT hands to XNNPACK whole, so each step is one "
    "delegate call. The FILL that zeroes the states costs nothing measurable (two (1, 128) "
    "tensors); the unrolled form is one XNNPACK partition of about 1,200 small operators whose "
    "per-operator dispatch (and thread synchronisation with 2 threads) costs more than the loop "
    "in float32 and float16.",
    "",
    "kerasport's `loop` form (`src/kerasport/export/tflite/writer/loop.py`, the default) goes "
    "one step further than TensorFlow's: the input projection of every time step (input kernel "
    "and bias) is one FULLY_CONNECTED before the loop, so the body holds a single matrix "
    "product (h with the (4U, U) recurrent kernel) and a GATHER of the step's projection. "
    "Its batch is fixed (1 unless `--batch-size` says otherwise), as for the fused op. LSTMs "
    "returning sequences, using initial or final states, or with other activations keep the "
    "fused op or the unrolled form; full int8 writes LSTMs fused (no int8 loop yet).", ""]


def render(saved: dict) -> str:
    """docs/tflite_lstm.md from the saved results."""
    lines = ["# TFLite LSTMs: loop, fused or unrolled", "",
             "<!-- generated by benchmarks/tflite_lstm.py from "
             "benchmarks/tflite_lstm_results.json: do not edit -->", "",
             "The LSTM text model of [tflite.md](tflite.md) (Embedding 10000x64, LSTM 128, 100 "
             "tokens, random weights) written by kerasport's TFLite writer in each "
             "`--tflite-lstm` form and by TensorFlow's converter, all four files timed in one "
             f"process in alternating blocks of 5 runs ({saved['repeats']} runs each, "
             f"{saved['threads']} threads, batch 1) on a shared {saved['cores']}-core machine "
             f"(load average {saved['load'][0]:.1f} -> {saved['load'][-1]:.1f}), TensorFlow "
             f"{saved['tensorflow']}, LiteRT {saved['litert']}. Ratio: latency / TensorFlow's "
             "file's (median; fastest runs in brackets). Error: max|tflite - Keras| / "
             f"max(1, max|Keras|) on {SAMPLES} inputs.", ""]
    lines += ["| mode | file | LiteRT latency (median) | fastest run | ratio | size | "
              "error vs Keras |", "|---|---|---|---|---|---|---|"]
    for m in saved["modes"]:
        tf = m["files"]["tensorflow"]
        for name, r in m["files"].items():
            lines.append(f"| {m['mode']} | {name} | {r['latency_ms']:.3f} ms | "
                         f"{r['best_ms']:.3f} ms | {r['latency_ms'] / tf['latency_ms']:.2f} "
                         f"({r['best_ms'] / tf['best_ms']:.2f}) | {r['size'] / 1e6:.2f} MB | "
                         f"{r['error']:.1e} |")
    lines += ["", "## Operators (float32 files; per subgraph: main, then WHILE cond/body)", "",
              "| file | operators |", "|---|---|"]
    for name, r in saved["modes"][0]["files"].items():
        lines.append(f"| {name} | " + " / ".join(
            f"[{k}] {ops}" for k, ops in enumerate(r["ops"])) + " |")
    return "\n".join(lines + [""] + WHY)


def main() -> int:
    """Measure (``--measure``) and save, then write docs/tflite_lstm.md; or render/check."""
    p = argparse.ArgumentParser()
    p.add_argument("--measure", action="store_true", help="run the benchmark first")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=200, help="timed LiteRT runs per file")
    p.add_argument("--cache", default=str(ROOT / "out" / "bench-tflite"),
                   help="where the randomised .keras file is kept")
    p.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = p.parse_args()
    if args.measure:
        save_json(RESULTS, measure(args))
    saved = json.loads(RESULTS.read_text())
    return publish(DOC, render(saved), args.check, "python benchmarks/tflite_lstm.py")


if __name__ == "__main__":
    sys.exit(main())
