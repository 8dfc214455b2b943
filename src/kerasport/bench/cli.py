"""The ``kerasport bench`` subcommand."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def add_parser(sub) -> None:
    """Add ``bench`` to the ``kerasport`` subparsers."""
    from kerasport.bench.core import DEFAULT_ENGINES

    s = sub.add_parser("bench", help="time the NumPy runtime against ONNX Runtime, LiteRT and "
                                     "Keras on one model, side by side")
    s.add_argument("model", help=".keras or .h5 file")
    s.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                   help="comma-separated: numpy, onnxruntime, litert, keras; also numpy1 "
                        "(the NumPy runtime with BLAS at one thread)")
    s.add_argument("--batch", default="1,32", help="comma-separated batch sizes")
    s.add_argument("--threads", type=int, default=2, help="threads for every engine")
    s.add_argument("--repeats", type=int, default=20, help="timed runs per engine and batch")
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--budget", type=float, default=10.0,
                   help="seconds of timing per batch size before repeats are reduced (min 5)")
    s.add_argument("--no-cold", action="store_true",
                   help="skip the cold-start / peak-memory processes")
    s.add_argument("--no-keras-reference", action="store_true",
                   help="do not import Keras just for the error column (numpy is the reference)")
    s.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if they are set")
    s.add_argument("--workdir", help="keep the converted files here (default: a temp dir)")
    s.add_argument("--json", help="also write the results as JSON")
    s.set_defaults(fn=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table."""
    from kerasport.bench.blas import reexec_without
    from kerasport.bench.core import run_bench
    from kerasport.bench.report import format_report

    if not args.keep_blas_env and sys.argv[1:2] == ["bench"]:
        # launched as the console command: restart without the slow OpenBLAS variables
        reexec_without(["-m", "kerasport", *sys.argv[1:]])
    result = run_bench(args.model, engines=[e.strip() for e in args.engines.split(",") if e],
                       batches=_ints(args.batch), threads=args.threads, repeats=args.repeats,
                       warmup=args.warmup, cold=not args.no_cold, budget=args.budget,
                       reference=not args.no_keras_reference, workdir=args.workdir,
                       log=lambda s: print(f"... {s}", file=sys.stderr, flush=True))
    print(format_report(result))
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 0
