"""``kerasport.convert(..., to="onnx")``: export, optionally quantize, check in ONNX Runtime."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

from kerasport.conversion.options import ConversionResult, ConvertOptions
from kerasport.io import staged_output


def to_onnx(model: Any, source: str, out: str, options: ConvertOptions,
            start: float) -> ConversionResult:
    """Export (and with ``quantize`` dynamic/static, quantize) to ``out``, staged and checked
    in ONNX Runtime when it is installed before the file appears."""
    from kerasport.export.onnx import export_onnx

    o = options
    if not o.quantize or o.quantize == "none":
        with staged_output(out) as tmp:
            proto = export_onnx(model, tmp, opset=o.opset, batch_size=o.batch_size,
                                inputs_as_nchw=o.inputs_as_nchw)
            size = os.path.getsize(tmp)
            err, line = check_onnx(model, tmp, o)
        head = (f"wrote {out} ({size / 1e6:.2f} MB, opset {o.opset}, "
                f"{len(proto.graph.node)} nodes) in {time.perf_counter() - start:.2f} s")
    else:
        from kerasport.export.onnx.quantize import quantize_onnx
        from kerasport.quantize.calibration import load_calibration

        calibration = load_calibration(o.calibration, model, images=o.image_options()) \
            if o.calibration else None
        with tempfile.TemporaryDirectory() as work, staged_output(out) as tmp:
            float_path = os.path.join(work, "float.onnx")
            export_onnx(model, float_path, opset=o.opset, batch_size=o.batch_size,
                        inputs_as_nchw=o.inputs_as_nchw)
            quantize_onnx(float_path, tmp, o.quantize, model.input_names, calibration)
            size = os.path.getsize(tmp)
            ratio = size / os.path.getsize(float_path)
            err, line = check_onnx(model, tmp, o, calibration)
        head = (f"wrote {out} ({size / 1e6:.2f} MB, {ratio:.0%} of float, "
                f"{o.quantize} int8) in {time.perf_counter() - start:.2f} s")
    return ConversionResult(source, "onnx", out, [out], size, os.path.getsize(source),
                            time.perf_counter() - start, [head, line],
                            "" if err is None else f"ORT error {err:.1e}", err)


def check_onnx(model: Any, path: str, options: ConvertOptions,
               data: list[np.ndarray] | None = None) -> tuple[float | None, str]:
    """Run the file in ONNX Runtime (if installed) and compare with the NumPy runtime:
    (max relative error or None when not run, the line to print)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime not installed: skipped the check (pip install 'kerasport[onnx]')"
    from kerasport.metrics import max_relative_error
    from kerasport.model import as_list

    ref = data if data is not None else model.make_reference().inputs
    if options.batch_size is not None:
        ref = [np.resize(a, (options.batch_size, *a.shape[1:])) for a in ref]
    inputs = [np.moveaxis(a, -1, 1) if options.inputs_as_nchw and a.ndim >= 3 else a
              for a in ref]
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), inputs)})
    want = as_list(model(ref if len(ref) > 1 else ref[0]))
    err = max_relative_error([np.asarray(g) for g in got], want)
    agree = ""
    if want[0].ndim == 2 and want[0].shape[1] > 1:
        same = np.mean(np.argmax(got[0], 1) == np.argmax(want[0], 1))
        agree = f", same top-1 class on {same:.1%}"
    return err, f"ONNX Runtime vs kerasport: max relative error {err:.2e}{agree}"
