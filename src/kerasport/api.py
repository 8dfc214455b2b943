"""``kerasport.load`` and the conversion entry points."""

from __future__ import annotations

import os
import time

from kerasport.bundle import is_bundle, load_bundle
from kerasport.errors import ModelFileError
from kerasport.ir.passes import optimize
from kerasport.keras.files import guarded, read_keras_file, sniff
from kerasport.keras.graph import Conversion, LayerRow, convert_spec
from kerasport.model import Model
from kerasport.onnx_reader import inspect_onnx, looks_like_onnx, read_onnx


def _check_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a directory (a TensorFlow SavedModel?); kerasport "
                             "reads .keras and .h5 files and its own bundles")
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: not a regular file")
    return path


def load(path: str | os.PathLike, optimize_graph: bool = True,
         input_shapes: dict[str, tuple] | None = None) -> Model:
    """Load a .keras or .h5 model (Keras 2 or 3), an .onnx model or a kerasport bundle,
    without TensorFlow. ``optimize_graph=False`` keeps one IR node per Keras op (no folding),
    for debugging. ``input_shapes`` fixes free dims of an ONNX model's inputs by name."""
    path = _check_path(path)
    if sniff(path) == "zip" and is_bundle(path):
        with guarded(path):
            graph, reference, meta = load_bundle(path)
            return Model(graph, reference, meta)
    if looks_like_onnx(path):
        return _load_onnx(path, optimize_graph, input_shapes)
    start = time.perf_counter()
    kf = read_keras_file(path)
    try:
        with guarded(path):
            conv = convert_spec(kf.spec, kf.weights)
            assert conv.graph is not None
            graph = optimize(conv.graph) if optimize_graph else conv.graph
    finally:
        kf.close()
    meta = {"source": os.path.basename(path), "source_format": kf.format,
            "keras_version": kf.keras_version,
            "convert_seconds": round(time.perf_counter() - start, 4)}
    return Model(graph, None, meta)


def _load_onnx(path: str, optimize_graph: bool, input_shapes: dict | None) -> Model:
    start = time.perf_counter()
    with guarded(path):
        graph, facts = read_onnx(path, input_shapes)
        graph = optimize(graph) if optimize_graph else graph
    meta = {"source": os.path.basename(path), "source_format": "onnx", **facts,
            "convert_seconds": round(time.perf_counter() - start, 4)}
    return Model(graph, None, meta)


def inspect_file(path: str | os.PathLike) -> Conversion:
    """Convert without raising on unsupported layers: rows for ``kerasport inspect``."""
    path = _check_path(path)
    if sniff(path) == "zip" and is_bundle(path):
        raise ModelFileError(f"{path}: a kerasport bundle; `inspect` lists the layers of "
                             ".keras and .h5 model files (check a bundle with `verify`)")
    if looks_like_onnx(path):
        with guarded(path):
            rows, issues = inspect_onnx(path)
        return Conversion(None, [LayerRow(*row) for row in rows], issues)
    kf = read_keras_file(path)
    try:
        with guarded(path):
            return convert_spec(kf.spec, kf.weights, strict=False)
    finally:
        kf.close()
