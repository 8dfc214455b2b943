"""The ONNX Runtime engine: kerasport's own ONNX export, built in memory (never written to
disk), run by an ``onnxruntime.InferenceSession`` on the CPU."""

from __future__ import annotations

from typing import Any

from kerasport.engines.base import Runner, installed, ops_without, require, wrap_errors

NAME = "onnxruntime"
EXTRA = "onnx"


def missing() -> str | None:
    """Why the engine cannot run here at all (a package missing), or None."""
    if not installed("onnx", "onnxruntime"):
        return f"onnx and onnxruntime not installed (pip install 'kerasport[{EXTRA}]')"
    return None


def unavailable(model: Any) -> str | None:
    """Why the engine cannot run ``model`` (ops kerasport's ONNX export cannot write), or
    None."""
    from kerasport.export.onnx import supported_ops, unavailable_ops

    bad = ops_without(model, set(supported_ops()), unavailable_ops())
    return f"cannot run these ops: {', '.join(bad)}" if bad else None


def build(model: Any, threads: int | None = None) -> Runner:
    """An ONNX Runtime session on ``to_onnx(model)`` (opset 17, dynamic batch); ``threads``
    sets intra_op_num_threads (None: ONNX Runtime's default)."""
    require("onnx", NAME, EXTRA)
    ort = require("onnxruntime", NAME, EXTRA)
    from kerasport.export.onnx import to_onnx

    proto = to_onnx(model)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    in_names = [i.name for i in session.get_inputs()]
    out_names = [o.name for o in session.get_outputs()]

    def run(arrays: list) -> list:
        return session.run(out_names, dict(zip(in_names, arrays)))

    return wrap_errors(NAME, run)
