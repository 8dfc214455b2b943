"""keras.applications: every architecture converts and matches Keras' logits (.keras and .h5).

Tolerance: ZOO_TOL = 1e-4 of the logits' scale. The large architectures are marked slow; all
of them are run by scripts/gen_zoo_doc.py, which writes docs/zoo.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import zoo  # noqa: E402

ZOO_TOL = 1e-4


@pytest.mark.parametrize(
    "arch", [pytest.param(a, id=a.id, marks=[pytest.mark.slow] if a.slow else [])
             for a in zoo.ARCHS])
def test_zoo_parity(arch, tmp_path):
    result = zoo.run(arch, tmp_path)
    assert result.max_error <= ZOO_TOL, result


@pytest.mark.parametrize("arch", zoo.K2_ARCHS, ids=[a.id for a in zoo.K2_ARCHS])
def test_zoo_parity_keras2(arch, tmp_path):
    result = zoo.run(arch, tmp_path, flavour="k2")
    assert result.max_error <= ZOO_TOL, result
