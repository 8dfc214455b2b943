"""``kerasport.convert`` to Keras 3: a ``.keras`` archive, or a folder with readable Keras
code and its weights; checked in Keras 3 (worker process) before it appears at ``out``."""

from __future__ import annotations

import os
import time
from typing import Any

from kerasport.conversion.options import ConversionResult, ConvertOptions
from kerasport.io import staged_directory, staged_output


def _reference(model: Any) -> tuple[list, list]:
    if model.reference is None:
        model.reference = model.make_reference()
    return model.reference.inputs, model.reference.outputs


def to_keras(model: Any, source: str, out: str, options: ConvertOptions,
             start: float) -> ConversionResult:
    """Write ``out`` (``--to keras``: a .keras file; ``--to keras-code``: a folder), load it
    in Keras 3 on the reference input, and rename it into place once it matched."""
    from kerasport.export.keras import check_in_keras, keras_graph
    from kerasport.export.keras.archive import write_archive

    # refuses unsupported layers before anything is written
    kmodel = keras_graph(source, options.weights_file, model)
    inputs, expected = _reference(model)
    if options.to == "keras":
        with staged_output(out) as tmp:
            write_archive(kmodel, tmp)
            check = check_in_keras("archive", tmp, inputs, expected, out)
        files = [out]
    else:
        from kerasport.export.keras.code import write_code

        with staged_directory(out) as tmp:
            py_tmp, w_tmp = write_code(kmodel, tmp)
            check = check_in_keras("code", py_tmp, inputs, expected,
                                   os.path.join(out, os.path.basename(py_tmp)))
        files = [os.path.join(out, os.path.basename(p)) for p in (py_tmp, w_tmp)]
    size = sum(os.path.getsize(f) for f in files)
    elapsed = time.perf_counter() - start
    original = os.path.getsize(source)
    lines = [f"wrote {' and '.join(files)} ({size / 1e6:.2f} MB, {len(kmodel.layers)} "
             f"layers) in {elapsed:.2f} s", check.note]
    metric = "not checked" if check.error is None else f"Keras 3 error {check.error:.1e}"
    return ConversionResult(source, options.to, out, files, size, original, elapsed, lines,
                            metric, check.error)
