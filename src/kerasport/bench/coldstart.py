"""Cold start and peak memory, measured in a new Python process per run.

Cold start: wall time from just before the process is started to the end of its first
prediction (interpreter start, imports, loading the file, one batch-1 prediction). Peak memory:
the process' resident-set high-water mark after that prediction (``VmHWM`` of
/proc/self/status on Linux, else ``ru_maxrss``, which Linux carries over from the parent
across exec): interpreter, libraries, weights and activations together.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

_HEADER = """import json as _json, resource as _resource, time as _time
PATH = {path!r}
INPUTS = {inputs!r}
NAMES = {names!r}
THREADS = {threads!r}
"""
_FOOTER = """
_t1 = _time.time()
_kb = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as _f:
        _kb = [int(_l.split()[1]) for _l in _f if _l.startswith("VmHWM:")][0]
except (OSError, IndexError):
    pass
print("KERASPORT_COLD " + _json.dumps({"t": _t1, "rss_kb": _kb}))
"""


def child_env(threads: int) -> dict[str, str]:
    """This process' environment with BLAS/OpenMP threads capped at ``threads``."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def measure_once(code: str, path: str, inputs: list[str], names: list[str], threads: int,
                 timeout: float = 600) -> dict[str, float]:
    """One new process: {"seconds": cold start, "peak_mb": ru_maxrss in MB}."""
    script = _HEADER.format(path=path, inputs=inputs, names=names, threads=threads) + code \
        + _FOOTER
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", script], env=child_env(threads),
                          capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("KERASPORT_COLD "):
            data = json.loads(line.split(" ", 1)[1])
            return {"seconds": data["t"] - start, "peak_mb": data["rss_kb"] / 1024}
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"cold-start process failed (exit {proc.returncode}): {tail}")


def measure(code: str, path: str, inputs: list[str], names: list[str], threads: int,
            runs: int = 3) -> dict[str, Any]:
    """Median cold start and the largest peak over ``runs`` processes (one run only when the
    first takes over 2 s, as TensorFlow's does)."""
    first = measure_once(code, path, inputs, names, threads)
    results = [first]
    if first["seconds"] < 2.0:
        results += [measure_once(code, path, inputs, names, threads) for _ in range(runs - 1)]
    return {"cold_start_s": statistics.median(r["seconds"] for r in results),
            "peak_mb": max(r["peak_mb"] for r in results), "cold_runs": len(results)}
