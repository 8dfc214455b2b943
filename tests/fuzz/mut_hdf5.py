"""HDF5 structure mutants (h5py) of .h5 models and of the weights inside .keras archives:
datasets with external storage in a decoy file, external links and virtual datasets into a
decoy HDF5 file, soft and hard links out of the weights tree or into cycles, huge declared
shapes with no storage, wrong, compound and string dtypes, wrong shapes, NaN weights, deleted
datasets, groups and attributes, and attributes of the wrong type."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import h5py
import numpy as np

from . import docs, zipfmt
from .case import SECRET_BIN, SECRET_H5, Case, file_case, marker_bytes
from .seeds import Seed

DTYPES = ["int8", "int64", "uint64", "float64", "float16", "complex64", "bool", ">f4", "S8",
          "str", "compound", "enum", "array", "ref", "V4"]
ATTRS = ["weight_names", "layer_names", "keras_version", "backend", "model_config",
         "training_config"]


def _marker(shape: tuple, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) if shape else 1
    return np.frombuffer(marker_bytes(n * dtype.itemsize), dtype).reshape(shape)


def _walk(f: h5py.File) -> tuple[list[str], list[str]]:
    datasets, groups = [], []

    def visit(name: str, obj) -> None:
        (datasets if isinstance(obj, h5py.Dataset) else groups).append(name)

    f.visititems(visit)
    return datasets, groups


def _decoy(shape: tuple, dtype, path: str = "/leak") -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as d:
        d.create_dataset(path, data=_marker(shape, dtype))
    return buf.getvalue()


def _huge_shape(shape: tuple, rng: random.Random) -> tuple[tuple, str]:
    target = rng.choice([(3 << 28, "1.5 GiB"), (1 << 31, "8 GiB"), (1 << 40, "2^40 elements")])
    n, what = target
    if len(shape) >= 2:
        rest = int(np.prod(shape[1:])) or 1
        return (max(1, n // rest), *shape[1:]), what
    return (n,), what


def _retype(data: np.ndarray, kind: str) -> np.ndarray:
    if kind == "str":
        return np.array([str(v) for v in data.ravel()], dtype=h5py.string_dtype())
    if kind == "compound":
        out = np.zeros(data.shape, [("a", "<f4"), ("b", "<i4")])
        out["a"] = data
        return out
    if kind == "enum":
        return np.zeros(data.shape, h5py.enum_dtype({"A": 0, "B": 1}, basetype="i1"))
    if kind == "array":
        return np.zeros(data.shape, np.dtype(("<f4", (2,))))
    if kind == "V4":
        return np.frombuffer(data.astype("<f4").tobytes(), "V4").reshape(data.shape)
    return data.astype(kind)


def edit(f: h5py.File, rng: random.Random) -> tuple[str, dict[str, bytes]]:
    """One structural edit of open file ``f``; returns its description and decoy files."""
    datasets, groups = _walk(f)
    small = [d for d in datasets if _plain(f[d])]  # never read what an edit made huge
    if not small:
        raise ValueError("no dataset to edit")
    name = rng.choice(small)
    ds = f[name]
    shape, dtype = ds.shape, ds.dtype
    values = ds[()]
    op = rng.choice(["external", "external", "extlink", "extlink", "softlink", "vds", "vds",
                     "huge", "huge", "dtype", "dtype", "shape", "values", "delete", "attr",
                     "attr", "cycle", "empty"])
    if op == "external":
        del f[name]
        offset = rng.choice([0, 0, 3, 4096])
        f.create_dataset(name, shape=shape, dtype=dtype,
                         external=[(SECRET_BIN, offset, max(1, ds_size(shape, dtype)))])
        return f"{name}: external storage in {SECRET_BIN} at {offset}", {}
    if op == "extlink":
        if rng.random() < 0.3 and "/" in name:  # the whole layer group
            group = name.rsplit("/", 1)[0]
            decoy = io.BytesIO()
            with h5py.File(decoy, "w") as d:
                f.copy(f[group], d, name="/leakgroup")
                for _, obj in _items(d["/leakgroup"]):
                    if obj.dtype.kind == "f" and obj.shape and _plain(obj):
                        obj[...] = _marker(obj.shape, obj.dtype)
            del f[group]
            f[group] = h5py.ExternalLink(SECRET_H5, "/leakgroup")
            return f"group {group}: external link to {SECRET_H5}", {SECRET_H5: decoy.getvalue()}
        del f[name]
        f[name] = h5py.ExternalLink(SECRET_H5, "/leak")
        return f"{name}: external link to {SECRET_H5}:/leak", {SECRET_H5: _decoy(shape, dtype)}
    if op == "softlink":
        f.create_dataset("/zz_outside", data=_marker(shape, dtype))
        del f[name]
        target = rng.choice(["/zz_outside", "/zz_outside", "/nowhere", "/" + name])
        f[name] = h5py.SoftLink(target)
        return f"{name}: soft link to {target} (outside the weights tree)", {}
    if op == "vds":
        del f[name]
        layout = h5py.VirtualLayout(shape, dtype)
        source = rng.choice([SECRET_H5, SECRET_H5, "."])
        src_path = "/leak" if source != "." else "/zz_outside"
        if source == ".":
            f.create_dataset("/zz_outside", data=_marker(shape, dtype))
        layout[...] = h5py.VirtualSource(source, src_path, shape=shape, dtype=dtype)
        f.create_virtual_dataset(name, layout, fillvalue=0)
        return f"{name}: virtual dataset over {source}:{src_path}", \
            {SECRET_H5: _decoy(shape, dtype)} if source != "." else {}
    if op == "huge":
        del f[name]
        big, what = _huge_shape(shape, rng)
        chunks = tuple(min(d, 64) for d in big)
        f.create_dataset(name, shape=big, dtype=dtype, chunks=chunks,
                         fillvalue=rng.choice([0, 1]))
        return f"{name}: declared shape {big} ({what}) with no storage", {}
    if op == "dtype":
        kind = rng.choice(DTYPES)
        del f[name]
        if kind == "ref":
            f.create_dataset(name, shape=shape, dtype=h5py.ref_dtype)
        else:
            f.create_dataset(name, data=_retype(np.asarray(values), kind))
        return f"{name}: dtype {dtype} -> {kind}", {}
    if op == "shape":
        how = rng.choice(["T", "flat", "axis", "scalar", "empty", "null", "drop"])
        arr = np.asarray(values)
        new = {"T": lambda: arr.T.copy(), "flat": lambda: arr.ravel(),
               "axis": lambda: arr[None], "scalar": lambda: arr.ravel()[:1].reshape(()),
               "empty": lambda: arr.ravel()[:0], "null": lambda: h5py.Empty(dtype),
               "drop": lambda: arr.ravel()[:-1]}[how]()
        del f[name]
        f.create_dataset(name, data=new)
        return f"{name}: shape {shape} -> {how}", {}
    if op == "values":
        fill = rng.choice([np.nan, np.inf, -np.inf, 3e38])
        if dtype.kind == "f" and shape:
            ds[...] = fill
            return f"{name}: values = {fill}", {}
        return f"{name}: unchanged (not float)", {}
    if op == "delete":
        victim = rng.choice([name, rng.choice(groups)] if groups else [name])
        del f[victim]
        return f"deleted {victim}", {}
    if op == "cycle":
        group = rng.choice(groups) if groups else ""
        parent = "/" + group.rsplit("/", 1)[0] if "/" in group else "/"
        if rng.random() < 0.5:
            f[f"{group}/loop"] = f[parent]
            return f"{group}/loop: hard link to its ancestor {parent}", {}
        f[f"{group}/loop"] = h5py.SoftLink("/" + group)
        return f"{group}/loop: soft link to itself", {}
    if op == "empty":
        del f[name]
        f.create_dataset(name, shape=(0,) * max(1, len(shape)), dtype=dtype)
        return f"{name}: zero-size dataset", {}
    return attr_edit(f, rng, groups)


def _plain(ds: h5py.Dataset) -> bool:
    """A small dataset stored in the file itself."""
    return (ds.shape is not None and ds_size(ds.shape, ds.dtype) < (16 << 20)
            and not ds.external and not ds.is_virtual and ds.dtype.kind in "fiub")


def ds_size(shape: tuple, dtype) -> int:
    """Bytes of a dataset."""
    return int(np.prod(shape)) * np.dtype(dtype).itemsize if shape else np.dtype(dtype).itemsize


def _items(group: h5py.Group) -> list[tuple[str, object]]:
    out = []
    group.visititems(lambda n, o: out.append((n, o)) if isinstance(o, h5py.Dataset) else None)
    return out


def attr_edit(f: h5py.File, rng: random.Random, groups: list[str]) -> tuple[str, dict]:
    """An attribute of the root or a layer group deleted or given a wrong type."""
    holders = ["/"] + ["/" + g for g in groups]
    where = rng.choice(holders)
    attrs = f[where].attrs
    name = rng.choice([a for a in attrs if a in ATTRS] or list(attrs) or ATTRS)
    value = rng.choice(["delete", np.array([1.5, 2.5]), 7, b"\xff\xfebad", np.bytes_(b""),
                        np.array([b"missing:0", b"\xff"]), np.zeros((2, 2), "S4"), "999.0",
                        np.array(["a", "b"], dtype=h5py.string_dtype()), np.void(b"\xff\x00"),
                        np.array([], dtype="S1")])
    if isinstance(value, str) and value == "delete":
        if name in attrs:
            del attrs[name]
        return f"{where}: attribute {name} deleted", {}
    attrs[name] = value
    return f"{where}: attribute {name} = {value!r}"[:200], {}


def mutate_h5(data: bytes, rng: random.Random, n: int) -> tuple[bytes, str, dict]:
    """``n`` edits of the .h5 bytes ``data``."""
    buf = io.BytesIO(data)
    what, decoys = [], {}
    with h5py.File(buf, "r+") as f:
        for _ in range(n):
            for _attempt in range(5):  # h5py refuses a few combinations: draw another edit
                try:
                    desc, extra = edit(f, rng)
                except (ValueError, TypeError, KeyError, OSError) as exc:
                    what.append(f"(edit refused by h5py: {type(exc).__name__})")
                    continue
                what.append(desc)
                decoys.update(extra)
                break
    return buf.getvalue(), "; ".join(what), decoys


def cases(seeds: list[Seed], rng: random.Random, ctx) -> Iterator[Case]:
    """Endless HDF5-structure mutants of .h5 seeds and of .keras weights."""
    pool = [s for s in seeds if s.kind in ("h5", "keras")]
    while True:
        seed = rng.choice(pool)
        data = ctx.read(seed.path)
        n = rng.choice([1, 1, 1, 2, 3])
        if seed.kind == "h5":
            new, what, decoys = mutate_h5(data, rng, n)
        else:
            entries = dict((i.filename, c) for i, c in zipfmt.read_entries(data))
            weights, what, decoys = mutate_h5(entries["model.weights.h5"], rng, n)
            new = docs.replace_entry(data, "model.weights.h5", weights)
            what = "model.weights.h5: " + what
        yield file_case("hdf5", seed, new, what, rng, decoys)
