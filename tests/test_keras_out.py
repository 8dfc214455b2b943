"""``--to keras`` and ``--to keras-code``: a Keras 3 model written without Keras.

Every case builds a model with the real Keras (Keras 3 or tf_keras), randomises every
weight, saves it, writes the Keras 3 form with kerasport (numpy + h5py + zipfile), loads it
with ``keras.saving.load_model(path, safe_mode=True)`` and compares with the ORIGINAL
model's outputs. Tolerance: TOL = 1e-5 of the output scale (keras_models.max_error).

The fast set is a representative sample (Keras 2 .h5 -> .keras migration first); every
parity model of the suite in every format runs under ``-m slow``.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import test_attention
import test_designs
import test_layers
import test_recurrent
import test_structures
import test_vision_layers
from keras_models import (
    FORMATS,
    TOL,
    keras_module,
    keras_outputs,
    max_error,
    random_inputs,
    randomize,
    save,
)

import kerasport
from kerasport.errors import KerasportError, UnsupportedLayerError
from kerasport.export.keras import keras_graph
from kerasport.export.keras.archive import write_archive

keras = pytest.importorskip("keras")

GROUPS = {"layers": test_layers.CASES, "structures": test_structures.STRUCTURES,
          "designs": test_designs.DESIGNS, "vision": test_vision_layers.CASES,
          "recurrent": {**test_recurrent.CASES, **test_recurrent.CELL_CASES},
          "attention": test_attention.CASES}
# (group, case, flavour, ext) run by default: a sample of each family
FAST = [
    ("structures", "sequential", "k2", "h5"), ("structures", "nested_functional", "k2", "h5"),
    ("structures", "shared_layers", "k2", "keras"), ("structures", "multi_io", "k3", "keras"),
    ("structures", "nested_in_sequential", "k3", "h5"),
    ("layers", "BatchNormalization", "k2", "h5"), ("layers", "PReLU-shared", "k2", "h5"),
    ("layers", "Conv1D-causal-dilated", "k2", "keras"), ("layers", "Concatenate-3", "k3", "h5"),
    ("vision", "SeparableConv2D-same-s2-mult", "k2", "h5"),
    ("vision", "DepthwiseConv2D", "k2", "keras"), ("vision", "Normalization-stored", "k2", "h5"),
    ("vision", "Conv2DTranspose-outpad", "k2", "h5"),
    ("designs", "unet", "k2", "h5"), ("designs", "preprocessing", "k3", "keras"),
    ("recurrent", "Bidirectional-concat", "k2", "h5"), ("recurrent", "stacked", "k2", "h5"),
    ("recurrent", "masked-GRU", "k2", "keras"), ("recurrent", "ConvLSTM2D", "k3", "h5"),
    ("recurrent", "time_distributed-sequential", "k3", "keras"),
    ("attention", "MHA-masked", "k2", "h5"), ("attention", "transformer_classifier", "k2", "h5"),
    ("attention", "GQA", "k3", "keras"),
]
ALL = [(g, c, f, e) for g, cases in GROUPS.items() for c in sorted(cases) for f, e in FORMATS]


def _id(case: tuple[str, str, str, str]) -> str:
    return f"{case[0]}-{case[1]}-{case[2]}.{case[3]}"


def build_and_save(build, flavour: str, ext: str, tmp_path: Path):
    """The randomised model, its inputs, its outputs and its saved file."""
    k = keras_module(flavour)
    try:
        model = build(k)
    except (AttributeError, TypeError, ValueError, NotImplementedError) as exc:
        if flavour == "k2":
            pytest.skip(f"this Keras 2 version cannot build the model: {exc}")
        raise
    randomize(model)
    inputs = random_inputs(model)
    want = keras_outputs(model, inputs)
    return inputs, want, save(model, tmp_path / f"source.{ext}")


def keras3_error(path: Path, inputs, want, tmp_path: Path) -> float:
    """Write ``path``'s Keras 3 form, load it in Keras 3 (safe mode), compare with ``want``."""
    out = tmp_path / "keras3.keras"
    write_archive(keras_graph(str(path)), str(out))
    loaded = keras.saving.load_model(str(out), safe_mode=True, compile=False)
    return max_error(keras_outputs(loaded, inputs), want)


def check(case: tuple[str, str, str, str], tmp_path: Path) -> None:
    group, name, flavour, ext = case
    inputs, want, path = build_and_save(GROUPS[group][name], flavour, ext, tmp_path)
    err = keras3_error(path, inputs, want, tmp_path)
    assert err <= TOL, f"max error {err:.3g} > {TOL:g}"


@pytest.mark.parametrize("case", FAST, ids=_id)
def test_keras3_file_matches_original(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in ALL if c not in FAST], ids=_id)
def test_keras3_file_matches_original_all(case, tmp_path):
    check(case, tmp_path)
