"""``python -m fuzz run|replay|seeds`` (from tests/, or ``make fuzz`` / ``make fuzz-replay``)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from .harness import FAMILIES, default_workers, run
from .pool import Limits, Worker


def _replay(paths: list[str], limits: Limits) -> int:
    from .case import load_case

    status = 0
    for p in paths:
        directory = Path(p)
        if not (directory / "case.json").exists():  # a failures directory: replay them all
            subdirs = sorted(d for d in directory.iterdir() if (d / "case.json").exists())
            status |= _replay([str(d) for d in subdirs], limits) if subdirs else 0
            continue
        case = load_case(directory)
        with tempfile.TemporaryDirectory(prefix="kerasport-replay-") as tmp:
            worker = Worker(0, Path(tmp), limits)
            worker.start()
            worker.submit(case)
            result = None
            while result is None:
                time.sleep(0.02)
                result = worker.poll()
            worker.stop()
        failures = result.get("failures") or []
        print(f"== {directory.name}: {case.family}: {case.mutation} (seed {case.seed})")
        print(f"   outcomes: {result.get('outcomes')}")
        for f in failures:
            print(f"   FAIL [{f['kind']}] {f['signature']} in {f.get('action')}")
            print("   " + (f.get("traceback") or f.get("message", "")).replace("\n", "\n   "))
        if not failures:
            print("   passes now")
        else:
            print(f"   by hand: kerasport inspect|convert|verify {directory / case.model}"
                  + (f" (predict: --input {directory / case.input})" if case.input else ""))
        status |= bool(failures)
    return int(status)


def main(argv: list[str] | None = None) -> int:
    """Command line of the fuzzer."""
    p = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="fuzz for a while and report failures per family")
    r.add_argument("--seconds", type=float, default=1800)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--workers", type=int, default=default_workers())
    r.add_argument("--families", default=",".join(FAMILIES),
                   help="comma-separated subset of: " + ", ".join(FAMILIES))
    r.add_argument("--failures", default="fuzz-failures",
                   help="directory for the smallest failing case of each signature")
    r.add_argument("--max-cases", type=int)
    for q in (r, sub.add_parser("replay", help="rerun saved failing cases")):
        q.add_argument("--timeout", type=float, default=5.0, help="seconds per case")
        q.add_argument("--peak-mb", type=float, default=1024.0,
                       help="peak RSS allowed per step")
    sub.choices["replay"].add_argument("cases", nargs="+",
                                       help="case directories, or a failures directory")
    sub.add_parser("seeds", help="build the seed corpus (cached) and print where it is")
    args = p.parse_args(argv)
    if args.command == "seeds":
        from .seeds import ensure_corpus

        seeds = ensure_corpus()
        print(seeds[0].path.parent, f"({len(seeds)} seeds)")
        return 0
    limits = Limits(timeout=args.timeout, peak_mb=args.peak_mb)
    if args.command == "replay":
        return _replay(args.cases, limits)
    families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(FAMILIES)
    if unknown:
        p.error(f"unknown families {sorted(unknown)}")
    report = run(args.seconds, seed=args.seed, workers=args.workers, families=families,
                 failures_dir=Path(args.failures), limits=limits, max_cases=args.max_cases,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    print(report.summary())
    return 1 if report.signatures else 0


if __name__ == "__main__":
    sys.exit(main())
