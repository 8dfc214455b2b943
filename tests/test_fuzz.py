"""The fuzzer (tests/fuzz): its detectors catch each kind of misbehaviour, and a bounded run
over every family (fixed seed, about a minute) finds no failure: no exception outside the
KerasportError family, no hang, no memory blow-up, no file left behind, no byte read from
outside the model file. ``make fuzz`` runs the same harness for longer."""

from __future__ import annotations

import os
import time

import pytest
from fuzz import REPO_DIR
from fuzz.case import Case
from fuzz.harness import FAMILIES, default_workers, run
from fuzz.pool import Limits, Worker

FUZZ_SECONDS = float(os.environ.get("KERASPORT_FUZZ_SECONDS", "60"))

# selftest operation -> the failure kind the harness must report (None: no failure)
DETECTORS = {"ok": None, "raise": "exception", "alloc": "memory", "peak": "memory",
             "sleep": "timeout", "crash": "died", "read-decoy": "secret",
             "leftover": "leftover", "fork-hang": "orphan", "fork-leave": "orphan"}


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """One fuzz worker with a short timeout, shared by the detector tests."""
    w = Worker(0, tmp_path_factory.mktemp("fuzz-selftest"), Limits(timeout=6.0, peak_mb=256.0))
    w.start()
    yield w
    w.stop()


@pytest.mark.parametrize("op", list(DETECTORS))
def test_detector(worker, op):
    """A worker misbehaving on purpose is reported with the right failure kind."""
    case = Case("selftest", "none", op, "model.bin", {"model.bin": b"", "input.npy": b""},
                "input.npy", mode="selftest", predict={"op": op})
    worker.submit(case)
    result = None
    while result is None:
        time.sleep(0.02)
        result = worker.poll()
    kinds = {f["kind"] for f in result["failures"]}
    if DETECTORS[op] is None:
        assert not kinds, result
    else:
        assert DETECTORS[op] in kinds, result


def test_bounded_fuzz():
    """Every family, fixed seed, about a minute: no failure signature at all."""
    failures = REPO_DIR / "fuzz-failures" / "test-run"  # kept for replay (gitignored)
    report = run(FUZZ_SECONDS, seed=0, workers=default_workers(), failures_dir=failures,
                 min_seconds=FUZZ_SECONDS / 3, log=lambda m: None)
    assert set(report.cases) == {"seed", *FAMILIES}, report.summary()
    if report.signatures:
        pytest.fail(f"{len(report.signatures)} distinct fuzz failures (cases saved in "
                    f"{failures}; replay with `make fuzz-replay CASE=<dir>`):\n"
                    f"{report.summary()}", pytrace=False)
