"""Which BLAS NumPy runs, and the OpenBLAS variables that may slow it down.

On some machines OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set and make OpenBLAS pick a slower
kernel. They only take effect when NumPy is first imported, so the benchmark can drop them for
its own process only by starting a fresh one (``reexec_without``), and says so in its output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SLOW_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MARKER = "KERASPORT_BENCH_UNSET"


def slow_vars_set() -> dict[str, str]:
    """The OpenBLAS variables of ``SLOW_VARS`` present in the environment."""
    return {k: os.environ[k] for k in SLOW_VARS if k in os.environ}


def unset_note() -> str | None:
    """A sentence for the output if this process was restarted without the variables."""
    dropped = os.environ.get(MARKER)
    if dropped:
        return f"unset {dropped} for this benchmark (restarted before importing numpy)"
    found = slow_vars_set()
    if found:
        return ("kept " + ", ".join(f"{k}={v}" for k, v in found.items())
                + ": NumPy's matrix products may run a slower kernel")
    return None


def reexec_without(argv: Sequence[str]) -> None:
    """Replace this process by ``python *argv`` with the slow OpenBLAS variables removed (so
    that numpy is imported afresh without them). Returns only if none is set."""
    found = slow_vars_set()
    if not found or os.environ.get(MARKER):
        return
    env = {k: v for k, v in os.environ.items() if k not in found}
    env[MARKER] = ", ".join(f"{k}={v}" for k, v in found.items())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv], env)


def blas_info() -> list[dict[str, str]]:
    """What threadpoolctl reports for the BLAS libraries loaded (empty if not installed)."""
    try:
        import numpy  # noqa: F401  (load the BLAS before asking)
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: str(lib.get(k)) for k in keep if k in lib} for lib in threadpool_info()
            if lib.get("user_api") == "blas"]


def describe_blas(info: list[dict[str, str]]) -> str:
    """One line: library, version, kernel (core type) and threads."""
    if not info:
        return "BLAS: unknown (pip install threadpoolctl to report it)"
    parts = [f"{i.get('internal_api', '?')} {i.get('version', '?')}, kernel "
             f"{i.get('architecture', '?')}, {i.get('num_threads', '?')} threads" for i in info]
    return "BLAS: " + "; ".join(parts)
