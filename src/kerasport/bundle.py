"""kerasport's bundle: one .npz with the graph as JSON, every weight, and a reference input and
output recorded at conversion. Loads with numpy alone and ``allow_pickle=False``."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasport._zip import ZIP_ERRORS, read_npz
from kerasport.errors import ModelFileError
from kerasport.io import atomic_write
from kerasport.ir.graph import Graph
from kerasport.ir.validate import graph_from_json
from kerasport.quantize.weights import SCALE_SUFFIX, WEIGHT_MODES, dequantize, quantize_constants

FORMAT = "kerasport-bundle"
# 2: recurrent nodes carry activation specs ({"op": ..., attributes}) instead of Keras
#    activation names and keras_major; version-1 bundles are upgraded at load.
VERSION = 2
GRAPH_KEY = "__kerasport__"


@dataclass
class Reference:
    """Inputs and the outputs they gave when the bundle was written."""

    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


def save_bundle(graph: Graph, path: str, reference: Reference | None = None,
                meta: dict | None = None, weights: str = "float32") -> None:
    """Write ``graph`` (and ``reference``) to ``path`` atomically; ``weights`` is the storage
    mode (float32, float16 or int8, see kerasport.quantize)."""
    stored = quantize_constants(graph, weights)
    const_names = sorted(graph.constants)
    header = {"format": FORMAT, "version": VERSION, "graph": graph.to_json(),
              "constant_order": const_names, "meta": meta or {}, "weights": weights,
              "n_reference": 0 if reference is None else len(reference.inputs)}
    arrays = {GRAPH_KEY: np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)}
    for i, name in enumerate(const_names):
        arrays[f"c{i}"] = stored[name]
        if name + SCALE_SUFFIX in stored:
            arrays[f"s{i}"] = stored[name + SCALE_SUFFIX]
    if reference is not None:
        arrays.update({f"ref_in{i}": a for i, a in enumerate(reference.inputs)})
        arrays.update({f"ref_out{i}": a for i, a in enumerate(reference.outputs)})

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def is_bundle(path: str) -> bool:
    """True if ``path`` is a zip holding a kerasport graph entry."""
    try:
        with zipfile.ZipFile(path) as zf:
            return f"{GRAPH_KEY}.npy" in zf.namelist()
    except ZIP_ERRORS:
        return False


def _header(arrays: dict[str, np.ndarray], path: str) -> dict:
    if GRAPH_KEY not in arrays:
        raise ModelFileError(f"{path}: not a kerasport bundle (no graph entry)")
    raw = arrays[GRAPH_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: corrupt bundle: the graph entry is not bytes")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: corrupt bundle: the graph entry is not valid JSON "
                             f"({str(exc)[:200]})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: corrupt bundle: the graph entry is not a JSON object")
    version = header.get("version", 0)
    if header.get("format") != FORMAT or not isinstance(version, int) or version > VERSION:
        raise ModelFileError(f"{path}: unknown bundle format/version "
                             f"{str(header.get('format'))[:50]} {str(version)[:20]}")
    for key, kind in (("constant_order", list), ("meta", dict), ("graph", dict),
                      ("n_reference", int)):
        if key in header and not isinstance(header[key], kind):
            raise ModelFileError(f"{path}: corrupt bundle: '{key}' is not a {kind.__name__}")
    if header.get("weights", "float32") not in WEIGHT_MODES:
        raise ModelFileError(f"{path}: corrupt bundle: unknown weight mode "
                             f"{str(header.get('weights'))[:50]!r}")
    return header


def _constants(arrays: dict[str, np.ndarray], header: dict, path: str) -> dict:
    stored = {}
    order = header.get("constant_order", [])
    if not all(isinstance(n, str) for n in order) or len(set(order)) != len(order):
        raise ModelFileError(f"{path}: corrupt bundle: bad constant names")
    for i, name in enumerate(order):
        if f"c{i}" not in arrays:
            raise ModelFileError(f"{path}: corrupt bundle: weight '{name}' (c{i}) is missing")
        stored[name] = arrays[f"c{i}"]
        if f"s{i}" in arrays:
            scale = arrays[f"s{i}"]
            if scale.dtype != np.float32 or stored[name].dtype != np.int8 or \
                    scale.ndim != stored[name].ndim or scale.shape[-1:] != \
                    stored[name].shape[-1:] or scale.size != stored[name].shape[-1]:
                raise ModelFileError(f"{path}: corrupt bundle: the int8 scale of '{name}' "
                                     "does not fit its weight")
            stored[name + SCALE_SUFFIX] = scale
    return dequantize(stored)


def _reference(arrays: dict[str, np.ndarray], graph: Graph, n_ref: int,
               path: str) -> Reference | None:
    if not n_ref:
        return None
    if n_ref != len(graph.inputs):
        raise ModelFileError(f"{path}: corrupt bundle: {n_ref} reference inputs for "
                             f"{len(graph.inputs)} model inputs")
    ins, outs = [], []
    for kind, names, out in (("in", graph.inputs, ins), ("out", graph.outputs, outs)):
        for i, name in enumerate(names):
            arr = arrays.get(f"ref_{kind}{i}")
            v = graph.values[name]
            ok = arr is not None and v.shape is not None and arr.ndim == len(v.shape) and all(
                not isinstance(d, int) or d == n or j == 0
                for j, (d, n) in enumerate(zip(v.shape, arr.shape)))
            if not ok:
                raise ModelFileError(f"{path}: corrupt bundle: reference {kind}put {i} "
                                     f"({name}) is missing or does not fit shape {v.shape}")
            out.append(arr.astype(v.dtype, copy=False))
    if len({a.shape[0] for a in ins + outs}) != 1:
        raise ModelFileError(f"{path}: corrupt bundle: reference arrays of different batch "
                             "sizes")
    return Reference(ins, outs)


def _upgrade(header: dict, path: str) -> Any:
    """The graph JSON of ``header`` in today's form: a version-1 bundle's recurrent nodes get
    activation specs for their Keras activation names (read as its Keras version meant them).
    Anything malformed is left for graph_from_json to report."""
    graph = header.get("graph")
    if header.get("version", 0) >= 2 or not isinstance(graph, dict):
        return graph
    from kerasport.keras.activation_table import upgrade_recurrent_attrs

    nodes = graph.get("nodes")
    if not isinstance(nodes, list):
        return graph
    upgraded = []
    for node in nodes:
        if isinstance(node, dict) and node.get("op") in RECURRENT_V1 and isinstance(
                node.get("attrs"), dict):
            try:
                node = {**node, "attrs": upgrade_recurrent_attrs(node["attrs"])}
            except ValueError as exc:
                raise ModelFileError(f"{path}: invalid bundle graph: {node.get('op')} node: "
                                     f"{exc}") from exc
        upgraded.append(node)
    return {**graph, "nodes": upgraded}


# the ops that carried Keras activation names in version-1 bundles
RECURRENT_V1 = ("SimpleRNN", "LSTM", "GRU", "ConvLSTM")


def load_bundle(path: str) -> tuple[Graph, Reference | None, dict]:
    """Read a bundle: its graph, reference I/O (if recorded) and metadata. Every entry is
    checked (sizes before allocation, the graph completely) before it is used."""
    arrays = read_npz(path, ModelFileError)
    header = _header(arrays, path)
    constants = _constants(arrays, header, path)
    graph = graph_from_json(_upgrade(header, path), constants, path)
    reference = _reference(arrays, graph, header.get("n_reference", 0), path)
    meta = {**header.get("meta", {}), "weights": header.get("weights", "float32")}
    return graph, reference, meta
