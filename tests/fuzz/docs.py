"""The JSON documents inside model files, read and written back: config.json and
metadata.json of a .keras archive, the ``model_config`` attribute of an .h5 file and the
graph entry of a bundle."""

from __future__ import annotations

import io
import json
from typing import Any

import h5py
import numpy as np

from . import zipfmt
from .seeds import Seed

GRAPH_ENTRY = "__kerasport__.npy"


def targets(seed: Seed) -> list[str]:
    """The documents a seed holds."""
    return {"keras": ["config.json", "config.json", "metadata.json"],
            "h5": ["model_config"], "bundle": ["graph"]}[seed.kind]


def read_doc(data: bytes, target: str) -> Any:
    """Parse one document out of a model file's bytes."""
    if target == "model_config":
        with h5py.File(io.BytesIO(data), "r") as f:
            raw = f.attrs["model_config"]
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    entries = dict((i.filename, c) for i, c in zipfmt.read_entries(data))
    if target == "graph":
        return json.loads(bytes(np.load(io.BytesIO(entries[GRAPH_ENTRY]))).decode())
    return json.loads(entries[target])


def npy_bytes(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    """``arr`` as .npy file bytes."""
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def replace_entry(data: bytes, name: str, content: bytes | None) -> bytes:
    """The archive with entry ``name`` replaced (or removed if ``content`` is None)."""
    entries = zipfmt.read_entries(data)
    out = [(i, content if i.filename == name else c) for i, c in entries
           if not (content is None and i.filename == name)]
    return zipfmt.build(out)


def set_attr(data: bytes, name: str, value: Any, path: str = "/") -> bytes:
    """The .h5 file with attribute ``name`` of ``path`` set (deleted if ``value`` is None).
    An attribute over 64 KiB needs dense attribute storage: the file is then rewritten in
    the latest HDF5 format."""
    buf = io.BytesIO(data)
    try:
        with h5py.File(buf, "r+") as f:
            attrs = f[path].attrs
            if value is None:
                if name in attrs:
                    del attrs[name]
            else:
                attrs[name] = value
        return buf.getvalue()
    except OSError:
        if value is None:
            raise
    out = io.BytesIO()
    with h5py.File(io.BytesIO(data), "r") as src, h5py.File(out, "w", libver="latest") as dst:
        for key in src:
            src.copy(src[key], dst, name=key)
        for key, v in src.attrs.items():
            dst.attrs[key] = v
        dst[path].attrs[name] = value
    return out.getvalue()


def write_doc(data: bytes, target: str, text: bytes) -> bytes:
    """Store serialized document ``text`` back where ``target`` was read from."""
    if target == "model_config":
        try:
            value: Any = text.decode("utf-8")
            if "\0" in value:
                value = np.void(text)
        except UnicodeDecodeError:
            value = np.void(text) if b"\0" in text else np.bytes_(text)
        return set_attr(data, "model_config", value)
    if target == "graph":
        return replace_entry(data, GRAPH_ENTRY, npy_bytes(np.frombuffer(text, np.uint8)))
    return replace_entry(data, target, text)
