"""``kerasport.load`` and the conversion entry points."""

from __future__ import annotations

import os
import time

from kerasport.bundle import is_bundle, load_bundle
from kerasport.engines import check_engine_name, use_engine
from kerasport.errors import ModelFileError
from kerasport.ir.passes import optimize
from kerasport.keras.files import guarded, sniff
from kerasport.keras.graph import Conversion, LayerRow, convert_spec
from kerasport.keras.savedmodel import is_saved_model
from kerasport.keras.split import read_model
from kerasport.model import Model
from kerasport.onnx_reader import inspect_onnx, looks_like_onnx, read_onnx


def _check_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such file")
    if is_saved_model(path):
        return path
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a directory but not a SavedModel (no saved_model.pb "
                             "nor keras_metadata.pb); kerasport reads .keras and .h5 files, "
                             "tf.keras SavedModel directories and its own bundles")
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: not a regular file")
    return path


def load(path: str | os.PathLike, optimize_graph: bool = True,
         weights: str | os.PathLike | None = None,
         input_shapes: dict[str, tuple] | None = None, engine: str = "numpy",
         threads: int | None = None) -> Model:
    """Load a .keras or .h5 model (Keras 2 or 3), a tf.keras SavedModel directory, a TF.js
    model.json, an .onnx model or a kerasport bundle, without TensorFlow. ``weights``: a
    separate weights file (.h5, .weights.h5, .keras or a TF checkpoint) for the architecture
    in ``path`` (a model.to_json() file, or a .keras/.h5 model whose own weights are then
    ignored). ``input_shapes`` fixes free dims of an ONNX model's inputs by name.
    ``optimize_graph=False`` keeps one IR node per source op (no folding), for debugging.
    ``engine``: "numpy" (default, no dependencies), "onnxruntime", "litert" or "auto" (the
    fastest installed engine that runs every op), see kerasport.engines; ``threads`` limits a
    native engine's threads."""
    check_engine_name(engine)
    weights = None if weights is None else os.fspath(weights)
    model = _load(_check_path(path), optimize_graph, weights, input_shapes)
    return model if engine == "numpy" else use_engine(model, engine, threads)


def _load(path: str, optimize_graph: bool, weights: str | None,
          input_shapes: dict[str, tuple] | None) -> Model:
    if weights is None and os.path.isfile(path) and sniff(path) == "zip" and is_bundle(path):
        with guarded(path):
            graph, reference, meta = load_bundle(path)
            return Model(graph, reference, meta)
    if weights is None and looks_like_onnx(path):
        return _load_onnx(path, optimize_graph, input_shapes)
    start = time.perf_counter()
    kf = read_model(path, weights)
    try:
        with guarded(path):
            conv = convert_spec(kf.spec, kf.weights)
            assert conv.graph is not None
            graph = optimize(conv.graph) if optimize_graph else conv.graph
    finally:
        kf.close()
    meta = {"source": os.path.basename(os.path.normpath(path)), "source_format": kf.format,
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


def inspect_file(path: str | os.PathLike,
                 weights: str | os.PathLike | None = None) -> Conversion:
    """Convert without raising on unsupported layers: rows for ``kerasport inspect``
    (``weights`` as in :func:`load`)."""
    path = _check_path(path)
    if os.path.isfile(path) and sniff(path) == "zip" and is_bundle(path):
        raise ModelFileError(f"{path}: a kerasport bundle; `inspect` lists the layers of "
                             ".keras and .h5 model files (check a bundle with `verify`)")
    if weights is None and looks_like_onnx(path):
        with guarded(path):
            rows, issues = inspect_onnx(path)
        return Conversion(None, [LayerRow(*row) for row in rows], issues)
    kf = read_model(path, None if weights is None else os.fspath(weights))
    try:
        with guarded(path):
            return convert_spec(kf.spec, kf.weights, strict=False)
    finally:
        kf.close()
