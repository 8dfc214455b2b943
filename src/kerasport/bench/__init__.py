"""Side-by-side benchmarks: kerasport's NumPy runtime against ONNX Runtime, LiteRT and Keras.

    >>> from kerasport.bench import run_bench, format_report
    >>> print(format_report(run_bench("model.keras", engines=["numpy", "onnxruntime"])))

Third-party engines are imported lazily; one that is not installed is skipped with a note.
"""

from __future__ import annotations

from kerasport.bench.core import DEFAULT_ENGINES, run_bench
from kerasport.bench.report import format_report, ratios

__all__ = ["DEFAULT_ENGINES", "format_report", "ratios", "run_bench"]
