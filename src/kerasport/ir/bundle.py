"""kerasport's bundle: one .npz with the graph as JSON, every weight, and a reference input and
output recorded at conversion. Loads with numpy alone and ``allow_pickle=False``."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from kerasport._zip import check_archive
from kerasport.errors import ModelFileError
from kerasport.ir.graph import Graph

FORMAT = "kerasport-bundle"
VERSION = 1
GRAPH_KEY = "__kerasport__"


@dataclass
class Reference:
    """Inputs and the outputs they gave when the bundle was written."""

    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


def atomic_write(path: str, write) -> None:
    """Call ``write(tmp_path)``, then rename it to ``path``: a failure leaves no partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kerasport-", suffix=os.path.splitext(path)[1] or ".tmp",
                               dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_bundle(graph: Graph, path: str, reference: Reference | None = None,
                meta: dict | None = None, weights: str = "float32") -> None:
    """Write ``graph`` (and ``reference``) to ``path`` atomically; ``weights`` is the storage
    mode (float32, float16 or int8, see kerasport.quantize)."""
    from kerasport.quantize.weights import SCALE_SUFFIX, quantize_constants

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
    except (zipfile.BadZipFile, OSError):
        return False


def load_bundle(path: str) -> tuple[Graph, Reference | None, dict]:
    """Read a bundle: its graph, reference I/O (if recorded) and metadata."""
    from kerasport.quantize.weights import SCALE_SUFFIX, dequantize

    try:
        with zipfile.ZipFile(path) as zf:
            check_archive(zf, path)
        with np.load(path, allow_pickle=False) as data:
            if GRAPH_KEY not in data.files:
                raise ModelFileError(f"{path}: not a kerasport bundle (no graph entry)")
            header = json.loads(bytes(data[GRAPH_KEY]).decode("utf-8"))
            if header.get("format") != FORMAT or header.get("version", 0) > VERSION:
                raise ModelFileError(f"{path}: unknown bundle format/version "
                                     f"{header.get('format')} {header.get('version')}")
            stored = {}
            for i, name in enumerate(header["constant_order"]):
                stored[name] = data[f"c{i}"]
                if f"s{i}" in data.files:
                    stored[name + SCALE_SUFFIX] = data[f"s{i}"]
            consts = dequantize(stored)
            n_ref = header.get("n_reference", 0)
            n_out = len(header["graph"]["outputs"])
            reference = None
            if n_ref:
                reference = Reference([data[f"ref_in{i}"] for i in range(n_ref)],
                                      [data[f"ref_out{i}"] for i in range(n_out)])
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as exc:
        raise ModelFileError(f"{path}: corrupt or truncated bundle ({exc})") from exc
    meta = {**header.get("meta", {}), "weights": header.get("weights", "float32")}
    return Graph.from_json(header["graph"], consts), reference, meta
