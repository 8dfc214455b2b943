"""The ONNX target mirrors the ops: every emitter (and every "not available in ONNX" entry)
lives in ``export/onnx/<family>.py``, named like the ``kerasport/ops`` module that defines its
op; every other module there is one of a short, named list of helpers. No onnx package needed.
"""

from __future__ import annotations

import os

import pytest

import kerasport.export.onnx as onnx_target
from kerasport.export.onnx import supported_ops, unavailable_ops
from kerasport.export.onnx.context import EMITTERS, UNAVAILABLE_IN
from kerasport.ops import FAMILIES, get_op

# modules of export/onnx that are not op families, and what each is for
HELPERS = {
    "__init__": "to_onnx / export_onnx",
    "context": "ExportContext, the emitter registry",
    "layouts": "which ONNX tensor holds an IR value in which layout",
    "helpers": "what the emitters share (dtype codes, scalars, pads, kernels)",
    "passes": "ONNX-only graph passes run before the emitters",
    "timemajor": "the time-major layout of sequences and masks",
    "recurrent_native": "the native ONNX RNN / LSTM / GRU ops",
    "recurrent_scan": "recurrent layers as a Scan (activations ONNX RNNs lack)",
    "conv_lstm_scan": "ConvLSTM as a Scan",
    "mask_compaction": "exact masks for the native recurrent ops",
    "quantize": "ONNX Runtime quantization of a written model",
}


def _family(op: str) -> str:
    return get_op(op).kernel.__module__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("op", supported_ops())
def test_emitter_lives_in_its_op_family_module(op):
    module = EMITTERS[op].__module__
    assert module == f"kerasport.export.onnx.{_family(op)}", (
        f"the ONNX emitter of {op} is in {module}; move it to "
        f"export/onnx/{_family(op)}.py (its op is defined in kerasport/ops/{_family(op)}.py)")


@pytest.mark.parametrize("op", sorted(unavailable_ops()))
def test_unavailable_entry_lives_in_its_op_family_module(op):
    assert UNAVAILABLE_IN[op] == f"kerasport.export.onnx.{_family(op)}"


def test_modules_are_families_or_named_helpers():
    folder = os.path.dirname(onnx_target.__file__)
    modules = {f[:-3] for f in os.listdir(folder) if f.endswith(".py")}
    strays = modules - set(FAMILIES) - set(HELPERS)
    assert not strays, (f"export/onnx modules {sorted(strays)} are neither an op family "
                        f"{FAMILIES} nor a listed helper")


def test_helper_names_are_not_family_names():
    assert not set(HELPERS) & set(FAMILIES)
