"""ONNX quantization with ONNX Runtime's tools: dynamic (int8 weights) and static (QDQ int8
with calibration data)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, MissingExtraError
from kerasport.io import atomic_write


def _ort_quantization():
    try:
        from onnxruntime import quantization
    except ImportError as exc:
        raise MissingExtraError("ONNX quantization needs ONNX Runtime: "
                                "pip install 'kerasport[onnx]'") from exc
    return quantization


def quantize_onnx(float_path: str, out_path: str, mode: str, input_names: list[str],
                  calibration: list[np.ndarray] | None = None) -> None:
    """Quantize the float model at ``float_path`` into ``out_path`` (atomically)."""
    q = _ort_quantization()
    if mode == "dynamic":
        def write(tmp: str) -> None:
            q.quantize_dynamic(float_path, tmp, weight_type=q.QuantType.QInt8)
    elif mode == "static":
        if not calibration:
            raise KerasportError("static quantization needs calibration data: --calibration "
                                 "DATA (.npy or .npz)")
        n = calibration[0].shape[0]

        class Reader(q.CalibrationDataReader):
            def __init__(self) -> None:
                self.i = 0

            def get_next(self) -> dict[str, Any] | None:
                if self.i >= n:
                    return None
                feed = {name: a[self.i:self.i + 1] for name, a in zip(input_names, calibration)}
                self.i += 1
                return feed

        def write(tmp: str) -> None:
            with tempfile.TemporaryDirectory() as work:
                prepared = os.path.join(work, "prepared.onnx")
                q.quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
                q.quantize_static(prepared, tmp, Reader(), quant_format=q.QuantFormat.QDQ,
                                  activation_type=q.QuantType.QInt8,
                                  weight_type=q.QuantType.QInt8, per_channel=True)
    else:
        raise KerasportError(f"unknown ONNX quantization '{mode}': use dynamic or static")
    atomic_write(out_path, write)
