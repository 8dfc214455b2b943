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
    per_family: dict[str, tuple[float, str]] = {}
    for test_id, err in ERRORS:
        name = test_id.split("::")[-1]
        family = name.split("[")[0]
        case = name.split("[")[-1].split("-")[0] if "[" in name else name
        key = f"{family}[{case}]"
        worst[key] = max(worst.get(key, 0.0), err)
        if err >= per_family.get(family, (-1.0, ""))[0]:
            per_family[family] = (err, name)
    terminalreporter.section("largest parity error vs Keras (relative to output scale)")
    terminalreporter.write_line("per test family (worst case):")
    for family, (err, name) in sorted(per_family.items()):
        terminalreporter.write_line(f"  {err:.2e}  {family}  ({name})")
    terminalreporter.write_line("worst cases:")
    for key in sorted(worst, key=worst.get, reverse=True)[:10]:
        terminalreporter.write_line(f"  {worst[key]:.2e}  {key}")
    terminalreporter.write_line(f"{len(ERRORS)} parity checks, worst {max(worst.values()):.2e}")
