"""The LiteRT engine: a float32 TFLite flatbuffer of the model, built in memory, run by
LiteRT's interpreter (ai-edge-litert, XNNPACK on the CPU).

The flatbuffer must come from a TFLite writer that needs no TensorFlow (TensorFlow's converter,
which ``kerasport convert --to tflite`` uses, runs in a worker process from the Keras file and
is not an engine). ``WRITER`` is that one function, ``model -> bytes``: until kerasport has its
own TensorFlow-free writer it is None and the engine reports itself unavailable, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kerasport.engines.base import EngineUnavailable, Runner, installed, require, wrap_errors
from kerasport.errors import KerasportError

NAME = "litert"
EXTRA = "litert"

# model -> float32 .tflite bytes, without TensorFlow. Plug kerasport's own writer in here.
WRITER: Callable[[Any], bytes] | None = None

NO_WRITER = ("kerasport has no TensorFlow-free TFLite writer yet, so the model cannot be "
             "built for LiteRT in memory (use engine='onnxruntime', or write a .tflite file "
             "with `kerasport convert --to tflite`)")


def missing() -> str | None:
    """Why the engine cannot run here at all (a package missing), or None."""
    if not installed("ai_edge_litert"):
        return f"ai-edge-litert not installed (pip install 'kerasport[{EXTRA}]')"
    return None


def unavailable(model: Any) -> str | None:
    """Why the engine cannot run ``model``: no writer (ops the writer refuses are named by
    it when the engine is built), or None."""
    return NO_WRITER if WRITER is None else None


def tflite_bytes(model: Any) -> bytes:
    """The float32 TFLite flatbuffer of ``model``, from ``WRITER``."""
    if WRITER is None:
        raise EngineUnavailable(f"the litert engine is unavailable: {NO_WRITER}")
    return WRITER(model)


def _key(name: str) -> str:
    """A TFLite tensor name without a signature prefix or ':0' suffix."""
    name = name.split(":")[0]
    return name[len("serving_default_"):] if name.startswith("serving_default_") else name


def _order(details: list[dict], names: list[str], what: str) -> list[dict]:
    """``details`` in the order of ``names`` when every name matches, else in file order."""
    by_name = {_key(d["name"]): d for d in details}
    if all(n in by_name for n in names):
        return [by_name[n] for n in names]
    if len(details) != len(names):
        raise KerasportError(f"the TFLite model has {len(details)} {what}s, the model "
                             f"{len(names)}")
    return sorted(details, key=lambda d: d["index"])


def build(model: Any, threads: int | None = None) -> Runner:
    """A LiteRT interpreter on ``tflite_bytes(model)``; inputs whose shape changes (another
    batch size) are resized before the call."""
    content = tflite_bytes(model)
    interpreter = require("ai_edge_litert.interpreter", NAME, EXTRA).Interpreter
    interp = interpreter(model_content=content, num_threads=threads or None)
    interp.allocate_tensors()
    ins = _order(interp.get_input_details(), model.input_names, "input")
    outs = _order(interp.get_output_details(), list(model.graph.outputs), "output")
    if any(np.dtype(d["dtype"]).kind != "f" and d["quantization"][0] for d in ins + outs):
        raise EngineUnavailable("the litert engine runs float models; this TFLite file has "
                                "quantized inputs or outputs")
    shapes = {d["index"]: tuple(d["shape"]) for d in ins}

    def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
        resized = False
        for d, a in zip(ins, arrays):
            if shapes[d["index"]] != a.shape:
                interp.resize_tensor_input(d["index"], list(a.shape))
                shapes[d["index"]] = a.shape
                resized = True
        if resized:
            interp.allocate_tensors()
        for d, a in zip(ins, arrays):
            interp.set_tensor(d["index"], np.ascontiguousarray(a, dtype=d["dtype"]))
        interp.invoke()
        return [interp.get_tensor(d["index"]).copy() for d in outs]

    return wrap_errors(NAME, run)
