"""The fuzz loop: families of mutants, round robin over a pool of workers until the time or
case budget is spent; distinct failure signatures per family, the smallest failing case of
each saved for replay."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import select
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import mut_bundle, mut_bytes, mut_hdf5, mut_json, mut_predict, mut_zip
from .case import Case, file_case
from .pool import Limits, Worker
from .seeds import Seed, cache_root, ensure_corpus

FAMILIES: dict[str, Callable[..., Iterator[Case]]] = {
    "bytes": mut_bytes.cases,
    "zip": mut_zip.cases,
    "json": mut_json.cases,
    "hdf5": mut_hdf5.cases,
    "bundle": mut_bundle.cases,
    "predict": mut_predict.cases,
}


class Context:
    """What mutators share: file contents read once, and a cache directory (zip bombs)."""

    def __init__(self, cache: Path):
        self.cache = cache
        self._files: dict[Path, bytes] = {}

    def read(self, path: Path) -> bytes:
        """The bytes of ``path``, read once."""
        if path not in self._files:
            self._files[path] = path.read_bytes()
        return self._files[path]


@dataclass
class Signature:
    """One distinct failure: how often, where, and the smallest case showing it."""

    kind: str
    signature: str
    message: str
    action: str
    count: int = 0
    families: dict[str, int] = field(default_factory=dict)
    example: str = ""
    example_size: int = -1
    saved: str = ""
    traceback: str = ""


@dataclass
class Report:
    """Cases run and failures, per family."""

    cases: dict[str, int] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)
    signatures: dict[str, Signature] = field(default_factory=dict)
    seconds: float = 0.0
    loaded: dict[str, int] = field(default_factory=dict)  # cases whose model loaded

    def add(self, case: Case, result: dict, failures_dir: Path | None) -> None:
        """Count one finished case; remember (and save) new or smaller failing examples."""
        fam = case.family
        self.cases[fam] = self.cases.get(fam, 0) + 1
        if (result.get("outcomes") or {}).get("load") == "ok":
            self.loaded[fam] = self.loaded.get(fam, 0) + 1
        failures = result.get("failures") or []
        if not failures:
            return
        self.failing[fam] = self.failing.get(fam, 0) + 1
        for f in failures:
            sig = self.signatures.get(f["signature"])
            if sig is None:
                sig = self.signatures[f["signature"]] = Signature(
                    f["kind"], f["signature"], f.get("message", ""), f.get("action", ""))
            sig.count += 1
            sig.families[fam] = sig.families.get(fam, 0) + 1
            if sig.example_size < 0 or case.size() < sig.example_size:
                sig.example = f"{fam}: {case.mutation} (seed {case.seed})"
                sig.example_size = case.size()
                sig.message = f.get("message", "")
                sig.traceback = f.get("traceback", "")
                if failures_dir is not None:
                    sig.saved = str(failures_dir / _slug(sig.signature))
                    case.save(Path(sig.saved), failures)

    def summary(self) -> str:
        """A table per family, then every signature with its smallest example."""
        lines = [f"{'family':10} {'cases':>7} {'failing':>8} {'signatures':>11} "
                 f"{'loaded':>7}"]
        for fam in self.cases:
            n_sig = sum(1 for s in self.signatures.values() if fam in s.families)
            lines.append(f"{fam:10} {self.cases[fam]:7} {self.failing.get(fam, 0):8} "
                         f"{n_sig:11} {self.loaded.get(fam, 0) / self.cases[fam]:7.0%}")
        lines.append(f"{'total':10} {sum(self.cases.values()):7} "
                     f"{sum(self.failing.values()):8} {len(self.signatures):11}"
                     f"   in {self.seconds:.0f} s")
        for sig in sorted(self.signatures.values(), key=lambda s: (s.kind, s.signature)):
            fams = ", ".join(f"{k} {v}" for k, v in sig.families.items())
            lines.append(f"\n[{sig.kind}] {sig.signature}\n    {sig.count} cases ({fams}); "
                         f"in {sig.action}: {sig.message.strip()[:300]!r}\n"
                         f"    smallest: {sig.example} ({sig.example_size} bytes)")
            if sig.saved:
                lines.append(f"    replay: make fuzz-replay CASE={sig.saved}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """Everything, for report.json."""
        return {"cases": self.cases, "failing": self.failing, "loaded": self.loaded,
                "seconds": self.seconds,
                "signatures": [vars(s) for s in self.signatures.values()]}


def clear_failures(directory: Path) -> None:
    """Empty a failures directory of an earlier run (only what the fuzzer wrote there)."""
    directory.mkdir(parents=True, exist_ok=True)
    for child in directory.iterdir():
        if child.is_dir() and (child / "case.json").exists():
            shutil.rmtree(child)
        elif child.name == "report.json":
            child.unlink()


def _slug(signature: str) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "-", signature).strip("-")[:70]
    return f"{text}-{hashlib.sha1(signature.encode()).hexdigest()[:8]}"


def baseline(seeds: list[Seed], ctx: Context) -> Iterator[Case]:
    """Every seed unmutated: they must pass every check."""
    rng = random.Random(0)
    for seed in seeds:
        case = file_case("seed", seed, ctx.read(seed.path), "unmutated", rng)
        case.weights = "float32"
        yield case


def run(seconds: float, seed: int = 0, workers: int = 2, families: list[str] | None = None,
        failures_dir: Path | None = None, limits: Limits | None = None,
        max_cases: int | None = None, log: Callable[[str], None] = print,
        min_seconds: float = 0.0) -> Report:
    """Fuzz for ``seconds`` in all (building the corpus included, but leaving at least
    ``min_seconds`` of fuzzing) or ``max_cases``, round robin over ``families``."""
    start = time.monotonic()
    seeds = ensure_corpus(log)
    ctx = Context(cache_root())
    fams = families or list(FAMILIES)
    harness_errors: list[str] = []
    gens = {f: resilient(f, seeds, random.Random(f"{seed}-{f}"), ctx, harness_errors.append)
            for f in fams}
    order = itertools.chain(baseline(seeds, ctx),
                            (next(gens[f]) for f in itertools.cycle(fams)))
    report = Report()

    if failures_dir is not None:
        clear_failures(failures_dir)
    workspace = Path(tempfile.mkdtemp(prefix="kerasport-fuzz-"))
    pool = [Worker(i, workspace, limits or Limits()) for i in range(max(1, workers))]
    busy: dict[int, Worker] = {}
    retry: list[Case] = []
    deadline = max(start + seconds, time.monotonic() + min_seconds)
    submitted, last_log = 0, time.monotonic()
    try:
        while True:
            for w in pool:
                if w.index in busy:
                    continue
                case = retry.pop() if retry else None
                if case is None and time.monotonic() < deadline and (
                        max_cases is None or submitted < max_cases):
                    for _ in range(20):  # a crashed mutator yields None once
                        case = next(order)
                        if case is not None:
                            submitted += 1
                            break
                if case is None:
                    continue
                w.submit(case)
                busy[w.index] = w
            if not busy:
                break
            fds = [w.fileno() for w in busy.values()]
            wait = min(w.deadline for w in busy.values()) - time.monotonic()
            select.select(fds, [], [], max(0.01, min(wait, 1.0)))
            for idx, w in list(busy.items()):
                case = w.case
                result = w.poll()
                if result is None:
                    continue
                del busy[idx]
                if not getattr(case, "retried", False) and any(
                        f["kind"] == "timeout" for f in result["failures"]):
                    case.retried = True  # a hang must repeat: not a busy machine's hiccup
                    retry.append(case)
                    continue
                report.add(case, result, failures_dir)
            if time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                log(f"fuzz: {sum(report.cases.values())} cases, "
                    f"{len(report.signatures)} signatures, "
                    f"{deadline - time.monotonic():.0f} s left")
    finally:
        for w in pool:
            w.stop()
        shutil.rmtree(workspace, ignore_errors=True)
    for msg in harness_errors:
        sig = report.signatures.setdefault(msg.split("\n", 1)[0], Signature(
            "harness", msg.split("\n", 1)[0], msg, "generate"))
        sig.count += 1
        sig.families["generator"] = sig.families.get("generator", 0) + 1
    report.seconds = time.monotonic() - start
    if failures_dir is not None:
        (failures_dir / "report.json").write_text(json.dumps(report.to_json(), indent=1))
    return report


def resilient(family: str, seeds: list[Seed], rng: random.Random, ctx: Context,
              on_error: Callable[[str], None]) -> Iterator[Case | None]:
    """The family's cases; a mutator crash is reported (then the mutator restarts with the
    same, advanced, random generator) instead of stopping the run."""
    while True:
        try:
            yield from FAMILIES[family](seeds, rng, ctx)
            while True:  # an exhausted family yields nothing more
                yield None
        except Exception as exc:  # a bug of the fuzzer, surfaced in the report
            on_error(f"harness: mutator {family} raised {type(exc).__name__}: {exc}\n"
                     f"{traceback.format_exc()[-2000:]}")
            yield None


def default_workers() -> int:
    """Two workers, or one on a single CPU."""
    return max(1, min(2, os.cpu_count() or 1))
