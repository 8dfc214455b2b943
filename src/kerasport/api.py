"""``kerasport.load`` and the conversion entry points."""

from __future__ import annotations

import os
import time

from kerasport.bundle import is_bundle, load_bundle
from kerasport.engines import check_engine_name, use_engine
from kerasport.errors import ModelFileError
from kerasport.ir.passes import optimize
from kerasport.keras.files import guarded, read_keras_file, sniff
from kerasport.keras.graph import Conversion, convert_spec
from kerasport.model import Model


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


def load(path: str | os.PathLike, optimize_graph: bool = True, engine: str = "numpy",
         threads: int | None = None) -> Model:
    """Load a .keras or .h5 model (Keras 2 or 3) or a kerasport bundle, without TensorFlow.
    ``optimize_graph=False`` keeps one IR node per Keras op (no folding), for debugging.
    ``engine``: "numpy" (default, no dependencies), "onnxruntime", "litert" or "auto" (the
    fastest installed engine that runs every op), see kerasport.engines; ``threads`` limits a
    native engine's threads."""
    check_engine_name(engine)
    model = _load(_check_path(path), optimize_graph)
    return model if engine == "numpy" else use_engine(model, engine, threads)


def _load(path: str, optimize_graph: bool) -> Model:
    if sniff(path) == "zip" and is_bundle(path):
        with guarded(path):
            graph, reference, meta = load_bundle(path)
            return Model(graph, reference, meta)
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


def inspect_file(path: str | os.PathLike) -> Conversion:
    """Convert without raising on unsupported layers: rows for ``kerasport inspect``."""
    path = _check_path(path)
    if sniff(path) == "zip" and is_bundle(path):
        raise ModelFileError(f"{path}: a kerasport bundle; `inspect` lists the layers of "
                             ".keras and .h5 model files (check a bundle with `verify`)")
    kf = read_keras_file(path)
    try:
        with guarded(path):
            return convert_spec(kf.spec, kf.weights, strict=False)
    finally:
        kf.close()
