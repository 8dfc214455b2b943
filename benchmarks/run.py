"""Run ``kerasport bench`` over the benchmark models and write docs/benchmarks.md (+ .svg).

    python benchmarks/run.py                       # every model, full run (~15 min, 2 cores)
    python benchmarks/run.py --quick               # fewer timed runs (a smoke run)
    python benchmarks/run.py --models lstm,transformer   # rerun some; others kept from
                                                         # benchmarks/results.json

Needs the ``bench`` extra (TensorFlow, Keras, onnx, onnxruntime, ai-edge-litert,
threadpoolctl; matplotlib for the plot). If OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, the
script restarts itself without them (they slow NumPy's matrix products) and says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

from kerasport.bench.blas import reexec_without

reexec_without(sys.argv)  # before anything heavy; returns if nothing is to be unset

from markdown import DOC, render, write_plot  # noqa: E402
from models import BUILDERS, ROOT, model_file  # noqa: E402

from kerasport.bench import format_report, run_bench  # noqa: E402
from kerasport.bench.blas import describe_blas  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.json"
LARGE = ("resnet50", "efficientnetb0", "mobilenetv2")


def _versions() -> str:
    import importlib.metadata as md

    out = []
    for pkg in ("numpy", "onnxruntime", "ai-edge-litert", "tensorflow", "keras"):
        try:
            out.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            out.append(f"{pkg} not installed")
    return ", ".join(out)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    """Benchmark, save benchmarks/results.json, write docs/benchmarks.md."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(BUILDERS), help="comma-separated subset")
    p.add_argument("--engines", default="numpy,numpy1,onnxruntime,litert,keras",
                   help="numpy1 = the NumPy runtime with BLAS at one thread")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="fewer runs (for a smoke run)")
    p.add_argument("--no-cold", action="store_true", help="skip cold-start processes")
    p.add_argument("--cache", default=str(Path(os.environ.get("TMPDIR", "/tmp"))
                                          / "kerasport-bench-models"),
                   help="where the built .keras files are kept")
    p.add_argument("--fresh", action="store_true", help="forget earlier results.json rows")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {list(BUILDERS)}")
    results: dict[str, dict] = {}
    previous: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.fresh:
        results = previous.get("models", {})
    env: dict = {}
    for name in names:
        path = model_file(name, Path(args.cache))
        print(f"=== {name} ({path})", flush=True)
        res = run_bench(str(path), engines=args.engines.split(","), batches=[1, 32],
                        threads=args.threads, repeats=5 if args.quick else 20,
                        warmup=1 if args.quick else 3, budget=3.0 if args.quick else 8.0,
                        cold=not args.no_cold,
                        log=lambda s: print(f"  ... {s}", file=sys.stderr, flush=True))
        res["measured_at"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC") + (" (--quick)" if args.quick else "")
        print(format_report(res), flush=True)
        results[name] = res
        env = {"threads": args.threads, "blas": describe_blas(res.get("blas", [])),
               "notes": "; ".join(res["notes"][1:]) or "none"}
        RESULTS.write_text(json.dumps({**previous, "models": results}, indent=1))
    env = {"CPU": f"{_cpu()}, {os.cpu_count()} logical cores",
           "load average at the end": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
           "python": platform.python_version(), "packages": _versions(), **env}
    docs = ROOT / "docs"
    plot = docs / "benchmarks.svg"
    has_plot = write_plot(plot, results)
    if not has_plot:
        print("matplotlib not installed: no plot (pip install matplotlib)")
    saved = {"models": results, "env": env, "plot": plot.name if has_plot else None}
    RESULTS.write_text(json.dumps(saved, indent=1))
    DOC.write_text(render(saved))
    print(f"wrote {DOC}" + (f" and {plot}" if has_plot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
