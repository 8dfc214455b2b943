"""Shared fixtures: Keras 3 and tf_keras (Keras 2) as ground truth, imported lazily."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def pytest_terminal_summary(terminalreporter):
    """Print the largest parity error seen per test family (for the issue notes)."""
    try:
        from keras_models import ERRORS
    except ImportError:
        return
    if not ERRORS:
        return
    worst: dict[str, float] = {}
    for test_id, err in ERRORS:
        name = test_id.split("::")[-1]
        family = name.split("[")[0]
        case = name.split("[")[-1].split("-")[0] if "[" in name else name
        key = f"{family}[{case}]"
        worst[key] = max(worst.get(key, 0.0), err)
    terminalreporter.section("largest parity error vs Keras (relative to output scale)")
    for key in sorted(worst, key=worst.get, reverse=True)[:15]:
        terminalreporter.write_line(f"{worst[key]:.2e}  {key}")
    terminalreporter.write_line(f"{len(ERRORS)} parity checks, worst {max(worst.values()):.2e}")
