"""Where a quantized file drifts: every tensor of a TFLite file that carries an IR value's
name, dequantized and compared with that value in kerasport's float runtime, in the file's
operator order. The first rows far above their tensor's scale name the operator to look at.

    from kerasport.export.tflite.int8.debug import drift
    for row in drift(content, model, [x[:8]]):
        print(row)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Drift:
    """One tensor: the operator writing it, its quantization step (0 for float tensors) and
    the max |file - runtime| over the given samples."""

    tensor: str
    op: str
    scale: float
    max_error: float

    def __str__(self) -> str:
        steps = f" ({self.max_error / self.scale:.1f} steps)" if self.scale else ""
        return f"{self.op:>24} {self.tensor}: max error {self.max_error:.3g}{steps}"


def drift(content: bytes, model: Any, inputs: Sequence[np.ndarray]) -> list[Drift]:
    """Compare every named tensor of ``content`` with kerasport's runtime on ``inputs`` (one
    array per model input; the file is run once on the whole batch, so keep it small or
    give the file a dynamic batch)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from kerasport.runtime.executor import Executor

    executor = Executor(model.graph)
    executor.run([np.asarray(a) for a in inputs], keep_all=True)
    values = executor.last_values
    interp = Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=(
                             OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    details = interp.get_input_details()
    for d, a in zip(details, inputs):
        interp.resize_tensor_input(d["index"], list(np.shape(a)))
    interp.allocate_tensors()
    for d, a in zip(details, inputs):
        scale, zero = d["quantization"]
        x = np.asarray(a)
        if scale:
            info = np.iinfo(d["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        interp.set_tensor(d["index"], x.astype(d["dtype"]))
    interp.invoke()
    rows = []
    for op in interp._get_ops_details():
        for index in op["outputs"]:
            t = interp._get_tensor_details(index, 0)
            want = values.get(t["name"])
            if want is None or np.asarray(want).dtype.kind != "f":
                continue
            scale, zero = t["quantization"]
            got = interp.get_tensor(index).astype(np.float64)
            got = (got - zero) * scale if scale else got
            if got.shape != np.shape(want):
                continue
            rows.append(Drift(t["name"], op["op_name"], float(scale),
                              float(np.max(np.abs(got - want))) if got.size else 0.0))
    return rows
