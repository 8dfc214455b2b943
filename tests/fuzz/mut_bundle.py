"""Bundle mutants: .npy entries whose header declares 2^40 elements (or a GiB) over a few
bytes, object arrays, wrong shapes and dtypes, NaN weights, malformed headers, Fortran order,
other .npy versions, swapped, missing and extra entries, and a graph entry of the wrong
dtype or shape."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import numpy as np

from . import docs, zipfmt
from .bombs import npy_header
from .case import Case, file_case
from .seeds import Seed

DTYPES = ["float64", "int32", "int64", "bool", "complex64", "<U4", ">f4", "float16", "i1",
          "u1", "datetime64[s]", "V8", "structured"]
BAD_HEADERS = [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': '3', }",
    "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<f0', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': [('a', '<f4')] * 1000, 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<f4', 'shape': (2,), }",
    "{'descr': '<f4', 'fortran_order': 'yes', 'shape': (2,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 70 + "), }",
    "__import__('os').getcwd()",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
    "[" * 50000 + "]" * 50000,
    "",
]


def _npy(data: bytes) -> np.ndarray:
    """Parse .npy bytes, refusing what an earlier edit made huge or hostile."""
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
        np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    if int(np.prod(shape)) * dtype.itemsize > (64 << 20) or dtype.hasobject:
        raise ValueError("not a plain small array")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _retype(arr: np.ndarray, kind: str) -> np.ndarray:
    if kind == "structured":
        out = np.zeros(arr.shape, [("a", "<f4"), ("b", "<i4")])
        out["a"] = arr
        return out
    if kind == "V8":
        return np.zeros(arr.shape, "V8")
    if kind == "<U4":
        return arr.astype(str).astype("<U4")
    return arr.astype(kind)


def array_edit(content: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One edit of an .npy entry's bytes."""
    arr = _npy(content)
    op = rng.choice(["huge", "huge", "object", "shape", "dtype", "dtype", "values", "fortran",
                     "version", "bad-header", "truncate", "header-length"])
    if op == "huge":
        n = rng.choice([1 << 40, 1 << 31, 1 << 28, (1 << 20, 1 << 20)])
        shape = n if isinstance(n, tuple) else (n,)
        descr = rng.choice(["<f4", "<f8", "|u1", "<f2"])
        return npy_header(shape, descr) + arr.tobytes()[:64], f"header declares {shape} {descr}"
    if op == "object":
        obj = np.empty(max(1, arr.size), object)
        obj[:] = [float(v) for v in arr.ravel()] or [None]
        return docs.npy_bytes(obj, allow_pickle=True), "object (pickled) array"
    if op == "shape":
        how = rng.choice(["T", "flat", "axis", "scalar", "empty", "drop", "double"])
        new = {"T": lambda: arr.T, "flat": lambda: arr.ravel(), "axis": lambda: arr[None],
               "scalar": lambda: arr.ravel()[:1].reshape(()), "empty": lambda: arr.ravel()[:0],
               "drop": lambda: arr.ravel()[:-1],
               "double": lambda: np.concatenate([arr, arr]) if arr.ndim else arr[None]}[how]()
        return docs.npy_bytes(np.ascontiguousarray(new)), f"shape {arr.shape} -> {how}"
    if op == "dtype":
        kind = rng.choice(DTYPES)
        return docs.npy_bytes(_retype(arr, kind)), f"dtype {arr.dtype} -> {kind}"
    if op == "values":
        fill = rng.choice([np.nan, np.inf, -np.inf, 3e38, 0.0])
        new = arr.copy()
        if new.dtype.kind == "f":
            with np.errstate(all="ignore"):
                new[...] = fill
        return docs.npy_bytes(new), f"values = {fill}"
    if op == "fortran":
        header = npy_header(arr.shape, arr.dtype.str, fortran=True)
        return header + np.ascontiguousarray(arr).tobytes(), "header says Fortran order"
    if op == "version":
        version = rng.choice([(2, 0), (3, 0), (9, 9), (0, 0)])
        header = npy_header(arr.shape, arr.dtype.str, version=(min(version[0], 3), 0))
        header = header[:6] + bytes(version) + header[8:]
        return header + arr.tobytes(), f".npy version {version}"
    if op == "bad-header":
        text = rng.choice(BAD_HEADERS)
        body = (text + "\n").encode()
        head = b"\x93NUMPY\x02\x00" + len(body).to_bytes(4, "little") + body
        return head + arr.tobytes(), f"header {text[:80]!r}"
    if op == "truncate":
        n = rng.randrange(len(content))
        return content[:n], f"truncated to {n} of {len(content)} bytes"
    value = rng.choice([0, 1, 0xFFFF, len(content)])
    return content[:8] + value.to_bytes(2, "little") + content[10:], f"header length {value}"


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One edit of a bundle's bytes."""
    entries = zipfmt.read_entries(data)
    names = [i.filename for i, _ in entries]
    contents = dict((i.filename, c) for i, c in entries)
    op = rng.choice(["array"] * 6 + ["missing", "extra", "swap", "graph-dtype"])
    if op == "array":
        name = rng.choice([n for n in names if n != docs.GRAPH_ENTRY])
        new, what = array_edit(contents[name], rng)
        return docs.replace_entry(data, name, new), f"{name}: {what}"
    if op == "missing":
        name = rng.choice(names)
        return docs.replace_entry(data, name, None), f"{name} removed"
    if op == "extra":
        n = sum(1 for x in names if x.startswith("c"))
        name = rng.choice([f"c{n}.npy", "s0.npy", f"ref_in{n}.npy", "ref_out9.npy", "x.npy"])
        extra = docs.npy_bytes(np.ones(rng.choice([(3,), (2, 2), ()]), "float32"))
        return zipfmt.build(entries + [(name, extra)]), f"extra entry {name}"
    if op == "swap":
        a, b = rng.sample(names, 2)
        swapped = [(i, contents[b] if i.filename == a else contents[a] if i.filename == b
                    else c) for i, c in entries]
        return zipfmt.build(swapped), f"contents of {a} and {b} swapped"
    graph = bytes(_npy(contents[docs.GRAPH_ENTRY]))
    kind = rng.choice(["float32", "int16", "2d", "empty", "object", "U"])
    arr = {"float32": lambda: np.frombuffer(graph, np.uint8).astype(np.float32),
           "int16": lambda: np.frombuffer(graph, np.uint8).astype(np.int16),
           "2d": lambda: np.frombuffer(graph[: len(graph) // 2 * 2], np.uint8).reshape(2, -1),
           "empty": lambda: np.zeros(0, np.uint8),
           "object": lambda: np.array([graph], dtype=object),
           "U": lambda: np.array([graph.decode()])}[kind]()
    new = docs.npy_bytes(arr, allow_pickle=kind == "object")
    return docs.replace_entry(data, docs.GRAPH_ENTRY, new), f"graph entry as {kind} array"


def cases(seeds: list[Seed], rng: random.Random, ctx) -> Iterator[Case]:
    """Endless bundle mutants."""
    bundles = [s for s in seeds if s.kind == "bundle"]
    while True:
        seed = rng.choice(bundles)
        data = ctx.read(seed.path)
        what = []
        for _ in range(rng.choice([1, 1, 1, 2])):
            for _attempt in range(5):  # an earlier edit may have made an entry unreadable
                try:
                    data, desc = mutate(data, rng)
                except Exception:  # any parse failure: try another edit
                    continue
                what.append(desc)
                break
        yield file_case("bundle", seed, data, "; ".join(what), rng)
