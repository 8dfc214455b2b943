"""Generated docs are up to date with the code or the saved results that generate them (no
TensorFlow needed: each generator's --check renders from what is committed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATORS = {
    "docs/layers.md": "scripts/gen_layers_doc.py",
    "docs/zoo.md": "scripts/gen_zoo_doc.py",
    "docs/edge.md and README's edge table": "scripts/gen_edge_doc.py",
    "docs/benchmarks.md": "benchmarks/markdown.py",
    "docs/onnx_benchmark.md": "benchmarks/onnx_vs_keras.py",
    "docs/onnx-ops.md": "scripts/onnx_backend.py",
    "docs/onnx-reader.md": "benchmarks/onnx_reader.py",
    "docs/scale.md": "benchmarks/scale.py",
    "docs/tflite.md": "benchmarks/tflite_writer.py",
    "docs/tflite_int8_benchmark.md": "benchmarks/tflite_int8.py",
    "docs/pytorch-target.md": "scripts/gen_pytorch_doc.py",
    "docs/tflite_lstm.md": "benchmarks/tflite_lstm.py",
}


@pytest.mark.parametrize("page", list(GENERATORS))
def test_generated_page_is_current(page):
    script = ROOT / GENERATORS[page]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, cwd=script.parent, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_docs_runs_every_generator():
    makefile = (ROOT / "Makefile").read_text()
    docs = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    for script in GENERATORS.values():
        assert script in docs, script
