"""kerasport's own TFLite writer against TensorFlow's converter, side by side in one run on the
same machine; writes docs/tflite.md from the saved results.

For each model (the digits CNN of examples/, MobileNetV2, ResNet50 and EfficientNetB0 with
weights=None then every weight randomised, BatchNorm statistics too, an LSTM text model and a
small transformer) and each mode (float32, float16, dynamic):

- conversion time: kerasport = read the .keras file + write the flatbuffer (no TensorFlow, in
  process, imports done); TensorFlow = kerasport's ``--converter tensorflow`` path (Keras
  loads the file in TensorFlow's long-lived worker process, SavedModel export, converter;
  the worker is warmed up before timing). Medians of ``--repeats-convert`` / ``--repeats-tf``
  runs.
- file size; LiteRT latency at batch 1 with 2 threads: the two files timed in alternating
  blocks of 5 runs (median, and the fastest run, less sensitive to the machine's load);
- max error against Keras on 8 random inputs: max|tflite - keras| / max(1, max|keras|).

    python benchmarks/tflite_writer.py --measure [--models lstm,...]  # run, save, render
    python benchmarks/tflite_writer.py            # the page from the saved results only
    python benchmarks/tflite_writer.py --check    # exit 1 if docs/tflite.md is stale

Needs the ``bench`` extra plus flatbuffers (TensorFlow, Keras, ai-edge-litert).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from docpage import publish, save_json  # noqa: E402
from models import BUILDERS, DIGITS, TITLES  # noqa: E402

RESULTS = ROOT / "benchmarks" / "tflite_writer_results.json"
DOC = ROOT / "docs" / "tflite.md"
MODELS = ("small_cnn", "mobilenetv2", "resnet50", "efficientnetb0", "lstm", "transformer")
MODES = ("none", "float16", "dynamic")
MODE_NAMES = {"none": "float32", "float16": "float16", "dynamic": "dynamic"}
SAMPLES = 8


def randomize(model: Any, seed: int = 0) -> None:
    """Every weight random (BatchNorm variances positive, gammas near 1), so outputs are not
    the near-zero logits of an untrained network."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for w in layer.weights:
            shape, path = tuple(w.shape), getattr(w, "path", w.name)
            if "variance" in path:
                v = rng.uniform(0.5, 1.5, shape)
            elif "gamma" in path:
                v = 1.0 + 0.2 * rng.standard_normal(shape)
            elif len(shape) >= 2:
                v = rng.standard_normal(shape) / np.sqrt(max(int(np.prod(shape[:-1])), 1))
            else:
                v = 0.2 * rng.standard_normal(shape)
            new.append(v.astype(np.float32))
        if new:
            layer.set_weights(new)


def model_file(name: str, cache: Path) -> Path:
    """The benchmarked .keras file (built and randomised once, cached)."""
    if name == "small_cnn":
        return DIGITS
    path = cache / f"{name}-random.keras"
    if not path.exists():
        import keras

        keras.utils.set_random_seed(0)
        model = BUILDERS[name](keras)
        randomize(model)
        cache.mkdir(parents=True, exist_ok=True)
        model.save(path)
    return path


def sample(model: Any, n: int, seed: int = 1) -> list[np.ndarray]:
    """Random inputs: standard normal images, token ids below 100."""
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in zip(model.input_names, model.input_shapes):
        dims = [n, *shape[1:]]
        if np.dtype(model.graph.values[name].dtype).kind in "iu":
            out.append(rng.integers(0, 100, size=dims).astype(np.int32))
        else:
            out.append(rng.standard_normal(dims).astype(np.float32))
    return out


def outputs(content: bytes, names: list[str], inputs: list[np.ndarray]) -> np.ndarray:
    """The first output, one sample at a time."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=content).get_signature_runner()
    key = sorted(runner.get_output_details())[0]
    return np.concatenate([np.asarray(runner(**{n: a[i:i + 1] for n, a in zip(
        names, inputs)})[key]) for i in range(inputs[0].shape[0])])


def latencies(contents: list[bytes], names: list[str], x: list[np.ndarray], threads: int,
              repeats: int, block: int = 5) -> list[tuple[float, float]]:
    """(median, min) batch-1 latency in ms of each file, timed in alternating blocks of
    ``block`` runs so that the machine's load hits every file alike."""
    from ai_edge_litert.interpreter import Interpreter

    runners = [Interpreter(model_content=c, num_threads=threads).get_signature_runner()
               for c in contents]
    feed = {n: a[:1] for n, a in zip(names, x)}
    for r in runners:
        for _ in range(3):
            r(**feed)
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(max(1, repeats // block)):
        for r, t in zip(runners, times):
            for _ in range(block):
                start = time.perf_counter()
                r(**feed)
                t.append(time.perf_counter() - start)
    return [(statistics.median(t) * 1e3, min(t) * 1e3) for t in times]


def error(got: np.ndarray, want: np.ndarray) -> float:
    """max|got - want| / max(1, max|want|)."""
    return float(np.abs(got.reshape(want.shape) - want).max() / max(1.0, np.abs(want).max()))


def convert_kerasport(path: Path, mode: str, repeats: int) -> tuple[bytes, float]:
    """Read + write with kerasport's writer; (bytes, median seconds)."""
    import kerasport
    from kerasport.export.tflite.writer import write_tflite

    times, content = [], b""
    for _ in range(repeats):
        start = time.perf_counter()
        content = write_tflite(kerasport.load(str(path)), quantize=mode)
        times.append(time.perf_counter() - start)
    return content, statistics.median(times)


def convert_tensorflow(path: Path, model: Any, mode: str, repeats: int) -> tuple[bytes, float]:
    """TensorFlow's converter through kerasport's worker; (bytes, median seconds). Recurrent
    models get batch 1, as ``--converter tensorflow`` gives them."""
    from kerasport.export.tflite import needs_static_batch
    from kerasport.export.tflite.options import TFLiteOptions
    from kerasport.export.tflite.worker import convert_keras_file

    batch = 1 if needs_static_batch(model.graph) else None
    options = TFLiteOptions(quantize=mode, batch_size=batch)
    times, content = [], b""
    for _ in range(repeats):
        start = time.perf_counter()
        content = convert_keras_file(str(path), model, options, None)
        times.append(time.perf_counter() - start)
    return content, statistics.median(times)


def run_model(name: str, cache: Path, args: argparse.Namespace) -> dict:
    """Every mode of one model, both converters."""
    import keras

    import kerasport

    path = model_file(name, cache)
    model = kerasport.load(str(path))
    inputs = sample(model, SAMPLES)
    want = np.asarray(keras.models.load_model(path, compile=False).predict(
        inputs if len(inputs) > 1 else inputs[0], verbose=0))
    rows = []
    for mode in MODES:
        row: dict[str, Any] = {"mode": MODE_NAMES[mode]}
        files = {}
        for conv in ("kerasport", "tensorflow"):
            try:
                if conv == "kerasport":
                    content, secs = convert_kerasport(path, mode, args.repeats_convert)
                else:
                    content, secs = convert_tensorflow(path, model, mode, args.repeats_tf)
                got = outputs(content, model.input_names, inputs)
                row[conv] = {"seconds": secs, "size": len(content), "error": error(got, want)}
                files[conv] = content
            except Exception as exc:  # a converter failing is a result, not a crash
                row[conv] = {"failed": f"{type(exc).__name__}: {str(exc)[:200]}"}
        timed = latencies(list(files.values()), model.input_names, inputs, args.threads,
                          args.repeats)
        for conv, (median, best) in zip(files, timed):
            row[conv].update(latency_ms=median, best_ms=best)
        print(name, row, flush=True)
        rows.append(row)
    return {"model": name, "params": model.graph.num_params(), "modes": rows}


def write_times(saved: dict, cache: Path, repeats: int = 5) -> None:
    """Add the writer's own time (the model already read; median of ``repeats``) to the
    kerasport rows of ``saved``: what reading the .keras file costs is the rest."""
    import kerasport
    from kerasport.export.tflite.writer import write_tflite

    for res in saved["rows"]:
        model = kerasport.load(str(model_file(res["model"], cache)))
        for row in res["modes"]:
            mode = {v: k for k, v in MODE_NAMES.items()}[row["mode"]]
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                write_tflite(model, quantize=mode)
                times.append(time.perf_counter() - start)
            if "seconds" in row.get("kerasport", {}):
                row["kerasport"]["write_seconds"] = statistics.median(times)


def measure(args: argparse.Namespace) -> dict:
    """Run the chosen models (keeping other saved rows); the results to save."""
    import ai_edge_litert
    import tensorflow as tf

    import kerasport
    from kerasport.export.tflite.writer import write_tflite

    write_tflite(kerasport.load(str(DIGITS)))  # imports before anything is timed
    from kerasport.export.tflite.options import TFLiteOptions
    from kerasport.export.tflite.worker import convert_keras_file

    m = kerasport.load(str(DIGITS))
    convert_keras_file(str(DIGITS), m, TFLiteOptions(), None)  # start TF's worker
    only = [x for x in args.models.split(",") if x]
    old = {r["model"]: r for r in json.loads(RESULTS.read_text())["rows"]} \
        if only and RESULTS.exists() else {}
    load = [os.getloadavg()[0]]
    rows = []
    for name in MODELS:
        if only and name not in only:
            if name in old:
                rows.append(old[name])
            continue
        rows.append(run_model(name, Path(args.cache), args))
    load.append(os.getloadavg()[0])
    return {"machine": platform.machine(), "cores": os.cpu_count(), "threads": args.threads,
            "tensorflow": tf.__version__, "litert": getattr(ai_edge_litert, "__version__", "?"),
            "load": load, "rows": rows}


TARGETS = {"speed-up": 20.0, "size": 1.0, "latency": 1.1, "latency (fastest runs)": 1.1}


def _fmt_seconds(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 10 else f"{s:.1f} s"


def _cell(r: dict, key: str) -> str:
    if "failed" in r:
        return "failed"
    v = r[key]
    return {"seconds": _fmt_seconds, "size": lambda b: f"{b / 1e6:.2f} MB",
            "latency_ms": lambda x: f"{x:.3f} ms", "best_ms": lambda x: f"{x:.3f} ms",
            "error": lambda x: f"{x:.1e}"}[key](v)


def ratios(row: dict) -> dict[str, float] | None:
    """TF time / kerasport time, kerasport size / TF size, kerasport latency / TF latency."""
    k, t = row.get("kerasport", {}), row.get("tensorflow", {})
    if "seconds" not in k or "seconds" not in t:
        return None
    return {"speed-up": t["seconds"] / k["seconds"], "size": k["size"] / t["size"],
            "latency": k["latency_ms"] / t["latency_ms"],
            "latency (fastest runs)": k["best_ms"] / t["best_ms"]}


def _summary(saved: dict) -> list[str]:
    lines = ["| model | mode | conversion speed-up | size ratio | latency ratio (fastest) | "
             "error kerasport | error TensorFlow |", "|---|---|---|---|---|---|---|"]
    all_r: dict[str, list[float]] = {k: [] for k in TARGETS}
    for res in saved["rows"]:
        for row in res["modes"]:
            r = ratios(row)
            k, t = row.get("kerasport", {}), row.get("tensorflow", {})
            if r is None:
                why = t.get("failed") or k.get("failed") or "not measured"
                lines.append(f"| {res['model']} | {row['mode']} | - | - | - | "
                             f"{_cell(k, 'error') if k else '-'} | {why[:80]} |")
                continue
            for key in TARGETS:
                all_r[key].append(r[key])
            lines.append(f"| {res['model']} | {row['mode']} | {r['speed-up']:.0f}x | "
                         f"{r['size']:.3f} | {r['latency']:.2f} "
                         f"({r['latency (fastest runs)']:.2f}) | {_cell(k, 'error')} | "
                         f"{_cell(t, 'error')} |")
    lines += ["", "Against the targets of issue 14 (over every measured row):", "",
              "| target | worst | median | met |", "|---|---|---|---|"]
    for key, limit in TARGETS.items():
        vals = all_r[key]
        if not vals:
            continue
        worst = min(vals) if key == "speed-up" else max(vals)
        ok = worst >= limit if key == "speed-up" else worst <= limit
        sign = ">=" if key == "speed-up" else "<="
        lines.append(f"| {key} {sign} {limit:g}{'x' if key != 'size' else ''} | "
                     f"{worst:.2f} | {statistics.median(vals):.2f} | "
                     f"{'yes' if ok else 'no'} |")
    return lines


def coverage() -> list[str]:
    """The IR ops the writer emits, and those it refuses with the reason (from the code)."""
    from kerasport.export.tflite.writer import supported_ops, unavailable_ops

    lines = ["", "## Op coverage", "",
             f"IR ops written as TFLite builtins or formulas of builtins "
             f"({len(supported_ops())}): " + ", ".join(f"`{op}`" for op in supported_ops())
             + ".", "", "Refused before anything is written, with the layers that hold them:",
             "", "| IR op | why |", "|---|---|"]
    lines += [f"| `{op}` | {why} |" for op, why in sorted(unavailable_ops().items())]
    return lines


def render(saved: dict) -> str:
    """docs/tflite.md from the saved results."""
    lines = ["# TFLite: kerasport's writer and TensorFlow's converter", "",
             "<!-- generated by benchmarks/tflite_writer.py from "
             "benchmarks/tflite_writer_results.json: do not edit -->", "",
             "`kerasport convert M --to tflite` writes the .tflite flatbuffer itself from the "
             "IR (`src/kerasport/export/tflite/writer/`): no TensorFlow, float32, float16 "
             "weights (+ DEQUANTIZE), dynamic-range int8 weights, and full-integer int8/uint8 "
             "and `--to edgetpu` (kerasport's own int8 pass, measured in "
             "[tflite_int8_benchmark.md](tflite_int8_benchmark.md)). `--converter tensorflow` "
             "runs TensorFlow's converter instead (the `tflite-tf` extra). Each file written is "
             "run in LiteRT and compared with kerasport's runtime before it is put in place.",
             "",
             f"Measured on {saved['machine']} ({saved['cores']} cores, shared; load average "
             f"{saved['load'][0]:.1f} -> {saved['load'][-1]:.1f}), TensorFlow "
             f"{saved['tensorflow']}, LiteRT {saved['litert']}, {saved['threads']} threads, "
             "batch 1. Conversion: kerasport = read the .keras file + write (in process; "
             "in brackets the writing alone); "
             "TensorFlow = Keras load + SavedModel + converter in its warm worker process. "
             f"Error: max|tflite - Keras| / max(1, max|Keras|) on {SAMPLES} random inputs. "
             "Ratios: TensorFlow time / kerasport time; kerasport size / TensorFlow size; "
             "kerasport latency / TensorFlow latency.", "", "## Summary", ""]
    lines += _summary(saved)
    for res in saved["rows"]:
        lines += ["", f"## {TITLES.get(res['model'], res['model'])}", "",
                  f"{res['params']:,} parameters.", "",
                  "| mode | converter | conversion | size | LiteRT latency (median) | fastest run "
                  "| error vs Keras |", "|---|---|---|---|---|---|---|"]
        for row in res["modes"]:
            for conv in ("kerasport", "tensorflow"):
                r = row.get(conv, {"failed": "not measured"})
                if "failed" in r:
                    lines.append(f"| {row['mode']} | {conv} | failed: {r['failed'][:90]} "
                                 "| | | | |")
                    continue
                write = (f" (writing {r['write_seconds'] * 1e3:.0f} ms)"
                         if "write_seconds" in r else "")
                lines.append(f"| {row['mode']} | {conv} | {_cell(r, 'seconds')}{write} | "
                             f"{_cell(r, 'size')} | {_cell(r, 'latency_ms')} | "
                             f"{_cell(r, 'best_ms')} | {_cell(r, 'error')} |")
    lines += coverage()
    lines += ["", "## Notes", "",
              "- LSTMs: kerasport writes a WHILE loop by default (batch fixed to 1, as "
              "TensorFlow's converter needs too; `--tflite-lstm fused` gives "
              "UNIDIRECTIONAL_SEQUENCE_LSTM, `--tflite-lstm unrolled` an unrolled graph with a "
              "dynamic batch): the forms compared in [tflite_lstm.md](tflite_lstm.md).",
              "- Dynamic range: kerasport stores int8 per-channel weights for CONV_2D, "
              "DEPTHWISE_CONV_2D and FULLY_CONNECTED (the LSTM loop's too) and per-tensor ones "
              "for the fused LSTM; "
              "embeddings (GATHER) stay float32.",
              "- On a machine shared with other jobs latencies move with the load; both "
              "converters' files were timed in the same run, one after the other.", ""]
    return "\n".join(lines)


def main() -> int:
    """Measure (``--measure``) and save, then write docs/tflite.md; or only render/check."""
    p = argparse.ArgumentParser()
    p.add_argument("--measure", action="store_true", help="run the benchmark first")
    p.add_argument("--models", default="", help="comma-separated subset to rerun")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=60, help="timed LiteRT runs per file")
    p.add_argument("--repeats-convert", type=int, default=3,
                   help="timed conversions by kerasport's writer (median)")
    p.add_argument("--repeats-tf", type=int, default=1,
                   help="timed conversions by TensorFlow's converter (median)")
    p.add_argument("--cache", default=str(ROOT / "out" / "bench-tflite"),
                   help="where the randomised .keras files are kept")
    p.add_argument("--write-times", action="store_true",
                   help="only (re)measure the writer's own time into the saved results")
    p.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = p.parse_args()
    if args.measure:
        save_json(RESULTS, measure(args))
    if args.measure or args.write_times:
        saved = json.loads(RESULTS.read_text())
        write_times(saved, Path(args.cache))
        save_json(RESULTS, saved)
    saved = json.loads(RESULTS.read_text())
    return publish(DOC, render(saved), args.check, "python benchmarks/tflite_writer.py")


if __name__ == "__main__":
    sys.exit(main())
