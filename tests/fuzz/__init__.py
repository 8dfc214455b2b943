"""kerasport's fuzzer: mutated .keras, .h5 and bundle files and bad predict inputs, each case
run in a resource-limited child process that fails on any exception outside the
KerasportError family, a hang, a memory blow-up, a file left behind or a byte read from a
file other than the one given.

Run ``python -m fuzz run --seconds 600`` from ``tests/`` (or ``make fuzz``), replay a saved
failure with ``python -m fuzz replay fuzz-failures/<case>``.
"""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = TESTS_DIR.parent
