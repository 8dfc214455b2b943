"""The ``kerasport report`` subcommand."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    """Add ``report`` to the ``kerasport`` subparsers."""
    from kerasport.report.targets import DEFAULT_TARGETS, TARGETS

    s = sub.add_parser("report", help="write one HTML page showing a conversion: the layer "
                                      "graph and every layer's error in each target")
    s.add_argument("model", help="a model file kerasport reads")
    s.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                   help=f"comma-separated, from: {', '.join(TARGETS)}")
    s.add_argument("--calibration", help="inputs to measure with (.npy/.npz, an image folder "
                                         "or a .py with get_dataset()); default: random")
    s.add_argument("--samples", type=int, default=32, help="rows of input to measure on")
    s.add_argument("-o", "--output", help="the .html file (default: MODEL_report.html)")
    s.set_defaults(fn=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Build the report and say where it is."""
    from kerasport.errors import InputError
    from kerasport.report import parse_targets, write_report

    if args.samples < 1:
        raise InputError(f"--samples must be at least 1, got {args.samples}")
    out = args.output or os.path.splitext(args.model)[0] + "_report.html"
    if os.path.abspath(out) == os.path.abspath(args.model):
        raise InputError(f"refusing to overwrite the input file {args.model}")
    report = write_report(args.model, out, parse_targets(args.targets), args.calibration,
                          args.samples)
    for t in report.targets:
        error = "-" if t.error is None else f"{t.error:.2e}"
        worst = max(t.layer_errors.items(), key=lambda kv: kv[1], default=None)
        where = f", worst layer value {worst[0]} {worst[1]:.2e}" if worst else ""
        print(f"{t.name:15s} {'ok' if t.ok else 'FAILED':6s} output error {error}{where}"
              + (f"  ({t.note})" if t.note and not t.ok else ""))
    print(f"wrote {out} ({os.path.getsize(out) / 1e3:.0f} kB, {report.model['layers']} layers)")
    return 0
