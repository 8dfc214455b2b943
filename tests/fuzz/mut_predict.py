"""Bad predict inputs (hypothesis) for good models: for ``Model.predict``, input specs (see
:mod:`fuzz.inputs`: wrong dtypes, NaN, transposed or empty arrays, huge broadcast dims,
ragged lists, object arrays, dicts with wrong names, generators) and batch sizes (0, -1, NaN,
inf, 1.5, strings); for ``kerasport predict --input``, input files (truncated .npy, object
arrays, a non-zip .npz, headers declaring 2^40 elements, wrong keys) and odd options."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import numpy as np
from hypothesis import strategies as st

from . import docs
from .bombs import npy_header
from .case import Case
from .inputs import SPECIALS, TRANSFORMS
from .mut_bundle import BAD_HEADERS
from .mut_json import hypothesis_batch
from .seeds import Seed

CAST = [None, "float16", "float64", "int32", "int64", "uint8", "bool", "complex64", "object",
        "<U3", "datetime64[s]"]
FILLS = [None, None, "nan", "inf", "-inf", "1e38"]
HUGE = [2**31, 2**40, 0]
BATCH = st.one_of(
    st.just(None), st.sampled_from([0, -1, 1, 2, 3, 2**31, 2**63, True, "3", [2], None]).map(
        lambda v: {"t": "value", "v": v}),
    st.sampled_from(["nan", "inf", "-inf", "1.5", "-0.0"]).map(lambda v: {"t": "float", "v": v}),
    st.sampled_from([("float32", "nan"), ("int64", 2), ("float64", "2.0"), ("uint8", 0)]).map(
        lambda kv: {"t": "np", "kind": kv[0], "v": kv[1]}))


def input_spec(shapes: list[tuple], free: set[int], depth: int = 0) -> st.SearchStrategy:
    """Strategy of input specs for a model whose reference inputs have ``shapes`` (axes in
    ``free`` are free: no huge sizes there, that would be legitimate work)."""
    n = len(shapes)
    fixed_axes = [(i, a) for i, s in enumerate(shapes) for a in range(1, len(s))
                  if a not in free]

    def broadcast(choice) -> dict:
        (i, axis), size, extra = choice
        shape = list(shapes[i])
        if axis is not None:
            shape[axis] = size
        return {"t": "broadcast", "shape": shape + [1] * extra}

    ref = st.builds(lambda i, d, f, t: {"t": "ref", "i": i, "dtype": d, "fill": f,
                                        "transform": t},
                    st.sampled_from([None] + list(range(n))), st.sampled_from(CAST),
                    st.sampled_from(FILLS), st.sampled_from([None] * 4 + TRANSFORMS))
    options = [
        ref, ref,
        st.tuples(st.sampled_from(fixed_axes or [(0, None)]), st.sampled_from(HUGE),
                  st.sampled_from([0, 0, 1, 40])).map(broadcast),
        st.builds(lambda s, d: {"t": "array", "shape": s, "dtype": d},
                  st.lists(st.integers(0, 4), max_size=5),
                  st.sampled_from(["float32", "int8", "bool", "float64"])),
        st.builds(lambda t, i: {"t": t, "i": i}, st.sampled_from(["tolist", "ragged"]),
                  st.integers(0, max(0, n - 1))),
        st.sampled_from([None, 1, "x", [], {}, [[]], [None], 1.5]).map(
            lambda v: {"t": "value", "v": v}),
        st.sampled_from(SPECIALS).map(lambda v: {"t": "special", "v": v}),
    ]
    if depth < 1:
        inner = input_spec(shapes, free, depth + 1)
        keys = st.sampled_from(["$0", "$1", "$2", "bogus", "", 0, None])
        options += [
            st.builds(lambda t, items: {"t": t, "items": items},
                      st.sampled_from(["list", "tuple", "object"]),
                      st.lists(inner, min_size=0, max_size=3)),
            st.lists(st.tuples(keys, inner), max_size=3).map(
                lambda items: {"t": "dict", "items": [list(kv) for kv in items]}),
        ]
    return st.one_of(*options)


def _npz(arrays: dict[str, np.ndarray], pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    if pickle:
        import zipfile

        with zipfile.ZipFile(buf, "w") as zf:
            for k, v in arrays.items():
                zf.writestr(k + ".npy", docs.npy_bytes(v, allow_pickle=True))
    else:
        np.savez(buf, **arrays)
    return buf.getvalue()


def input_file(kind: str, ref: bytes, arrays: list[np.ndarray], names: list[str],
               rng: random.Random) -> tuple[bytes, str]:
    """Bytes of a --input file of ``kind``, and its extension."""
    a0 = arrays[0]
    if kind == "valid":
        return ref, ".npz" if ref.startswith(b"PK") else ".npy"
    if kind == "truncated":
        return ref[:rng.randrange(len(ref))], ".npz" if ref.startswith(b"PK") else ".npy"
    if kind == "npz-not-zip":
        return rng.choice([docs.npy_bytes(a0), rng.randbytes(100), b"", b"PK\x03\x04junk"]), \
            ".npz"
    if kind == "npz-object":
        obj = np.empty(len(a0), object)
        obj[:] = list(a0)
        return _npz({names[0]: obj, **{n: a for n, a in zip(names[1:], arrays[1:])}}, True), \
            ".npz"
    if kind == "npy-object":
        obj = np.empty(len(a0), object)
        obj[:] = list(a0)
        return docs.npy_bytes(obj, allow_pickle=True), ".npy"
    if kind == "npy-huge":
        shape = rng.choice([(1 << 40,), (1 << 31, 4), (2, 1 << 40)])
        return npy_header(shape, "<f4") + a0.tobytes()[:64], ".npy"
    if kind == "npy-bad-header":
        body = (rng.choice(BAD_HEADERS) + "\n").encode()
        return b"\x93NUMPY\x02\x00" + len(body).to_bytes(4, "little") + body, ".npy"
    if kind == "npz-wrong-keys":
        keys = rng.choice([["x", "y", "z"][: len(arrays) + 1], ["arr_0"], ["a/b"], ["", "q"]])
        return _npz(dict(zip(keys, arrays * 3))), ".npz"
    if kind == "npz-empty":
        return _npz({}), ".npz"
    other = {"npy-structured": lambda: np.zeros(a0.shape, [("a", "<f4")]),
             "npy-string": lambda: a0.astype(str), "npy-0d": lambda: np.float32(1.0),
             "npy-fortran": lambda: np.asfortranarray(a0),
             "npy-big-endian": lambda: a0.astype(">f4"),
             "npy-complex": lambda: a0.astype(np.complex64)}[kind]()
    return docs.npy_bytes(np.asarray(other)), ".npy"


FILE_KINDS = ["valid", "truncated", "truncated", "npz-not-zip", "npz-object", "npy-object",
              "npy-huge", "npy-bad-header", "npz-wrong-keys", "npz-empty", "npy-structured",
              "npy-string", "npy-0d", "npy-fortran", "npy-big-endian", "npy-complex"]


def _arrays(seed: Seed, ctx) -> tuple[list[np.ndarray], list[str]]:
    raw = ctx.read(seed.input)
    if seed.input.suffix == ".npz":
        with np.load(io.BytesIO(raw)) as data:
            return [data[k] for k in data.files], list(data.files)
    return [np.load(io.BytesIO(raw))], ["x"]


def mutant(seeds: list[Seed], ctx, data: st.DataObject, rng: random.Random) -> Case:
    """One predict case drawn by hypothesis."""
    seed = data.draw(st.sampled_from(seeds))
    arrays, names = _arrays(seed, ctx)
    model = f"model.{seed.path.name.split('.', 1)[1]}"
    files = {model: ctx.read(seed.path)}
    if data.draw(st.booleans()):  # the CLI with an input file
        kind = data.draw(st.sampled_from(FILE_KINDS))
        content, ext = input_file(kind, ctx.read(seed.input), arrays, names, rng)
        inp = "input" + ext
        files[inp] = content
        output = data.draw(st.sampled_from(["pred.npz", "pred.npy", "pred", "nodir/pred.npz",
                                            "", "isdir.npz"]))
        batch = data.draw(st.sampled_from(["", "", "nan", "0", "-1", "1", "99999999999999999999",
                                           "1e3"]))
        cli = {"output": output, "batch_size": batch, "output_is_dir": output == "isdir.npz"}
        what = f"cli: --input {kind}{ext}, -o {output or '(print)'}, --batch-size {batch!r}"
        return Case("predict", seed.name, what, model, files, inp, seed.n_outputs,
                    mode="predict", predict={"cli": cli})
    inp = "input" + seed.input.suffix
    files[inp] = ctx.read(seed.input)
    free = {1} if "lstm" in seed.name else set()
    x = data.draw(input_spec([a.shape for a in arrays], free))
    bs = data.draw(BATCH)
    spec = {"x": x, "batch_size": bs, "call": data.draw(st.booleans())}
    return Case("predict", seed.name, f"api: x={x} batch_size={bs}"[:600], model, files, inp,
                seed.n_outputs, mode="predict", predict=spec)


def cases(seeds: list[Seed], rng: random.Random, ctx) -> Iterator[Case]:
    """Endless predict cases, drawn in batches."""
    while True:
        yield from hypothesis_batch(lambda d: mutant(seeds, ctx, d, rng), 200,
                                    rng.randrange(1 << 32))
