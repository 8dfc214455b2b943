"""JSON structure mutants (hypothesis): sub-values of config.json, metadata.json, an .h5
``model_config`` or a bundle's graph replaced by null, [], {}, NaN, huge integers, strings,
100k-deep nesting, wrong types or other parts of the document; keys deleted; layer references
turned into cycles or pointed past a layer's outputs; encodings broken."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed
from hypothesis import strategies as st

from . import docs
from .case import Case, file_case
from .seeds import Seed

DEEP = "\0DEEP\0"  # replaced by 100k levels of nesting when serialized
DEPTH = 100_000
H5_DEPTH = 25_000  # an HDF5 attribute in a compact object header holds at most 64 KiB
SPECIAL = [None, [], {}, "", 0, -1, True, False, math.nan, math.inf, -math.inf, 2**31,
           2**63, -(2**63) - 1, 10**30, 1e308, -0.0, 0.5, "__keras_tensor__", "Functional",
           "Sequential", "InputLayer", "float64", "int8", "keras.src.models", [None], [[]],
           {"class_name": None}, {"config": None}, DEEP]

# config keys -> plausible but hostile values (typed edits that get past a type check)
PLAUSIBLE = {
    "activation": ["linear", "softmax", "gelu", "swish", "nonexistent", "relu6",
                   "keras.activations.relu", {"class_name": "Foo", "config": {}}],
    "padding": ["valid", "same", "causal", "full", "reflect", [[1, 1], [1, 1]], 2**31],
    "strides": [[0, 0], [-1, 1], [2**31, 1], [1], 0, [1, 1, 1]],
    "kernel_size": [[0, 0], [100, 100], [-3, 3], [2**31, 1], 1],
    "pool_size": [[0, 0], [100, 100], [-2, 2], [1, 1, 1]],
    "dilation_rate": [[0, 0], [2, 2], [1000, 1], [-1, 1]],
    "axis": [-1, 0, 5, -5, [1, 2], 2**31, [-1, -1]],
    "units": [0, -1, 1, 2**31, 10**6],
    "filters": [0, -1, 2**20],
    "rate": [1.0, -0.5, 2.0, math.nan],
    "epsilon": [0, -1, math.nan, 1e30],
    "momentum": [math.inf, -1],
    "data_format": ["channels_first", "channels_last", "NCHW", None],
    "dtype": ["float16", "bfloat16", "int8", "mixed_float16", "float64", "string", "uint64",
              {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "int8"}}],
    "batch_shape": [[None, 0], [None, -1], [None, 2**31], [2**31, 4], [None, None],
                    [None, 4, 4, 4, 4, 4, 4, 4], []],
    "batch_input_shape": [[None, 0], [None, -1], [None, 2**31], [None, None], []],
    "return_sequences": [True], "return_state": [True], "go_backwards": [True],
    "stateful": [True], "unroll": [True], "time_major": [True], "use_bias": [False, True],
    "center": [False], "scale": [False], "mask_value": [math.nan, "x", None],
    "target_shape": [[-1], [0], [2**31], [-1, -1]], "dims": [[2, 1], [1, 1], [3, 2, 1]],
    "recurrent_activation": ["relu", "nonexistent"], "implementation": [0, 1, 2, 3],
    "sparse": [True], "ragged": [True], "trainable": [None],
    "class_name": ["Lambda", "TFOpLambda", "Functional", "Sequential", "InputLayer", "Dense",
                   "__keras_tensor__", "Custom>Foo"],
    "module": ["builtins", "os", None, ["keras"]], "registered_name": ["Custom>Foo", None],
    "op": ["Add", "MatMul", "Conv", "nonexistent", None],
}

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
hostile = st.one_of(
    st.sampled_from(SPECIAL), st.integers(), st.floats(), st.text(max_size=30),
    st.recursive(json_leaf, lambda c: st.lists(c, max_size=3) |
                 st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8))


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) into ``doc``, the root included."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, prefix + (i,))
    return out


def get(doc: Any, path: tuple) -> Any:
    """The value at ``path``."""
    for p in path:
        doc = doc[p]
    return doc


def put(doc: Any, path: tuple, value: Any) -> Any:
    """``doc`` with the value at ``path`` replaced (in place; returns the new root)."""
    if not path:
        return value
    get(doc, path[:-1])[path[-1]] = value
    return doc


def refs(doc: Any) -> list[tuple]:
    """Paths of tensor references: [layer, node, index(, kwargs)] lists and bundle inputs."""
    out = []
    for p in paths(doc):
        v = get(doc, p)
        if isinstance(v, list) and len(v) in (3, 4) and isinstance(v[0], str) and all(
                isinstance(i, int) and not isinstance(i, bool) for i in v[1:3]):
            out.append(p)
    return out


def layer_of(doc: Any, path: tuple) -> str | None:
    """The name of the layer (or first output of the bundle node) holding ``path``."""
    for cut in range(len(path), 1, -1):
        if path[cut - 2] in ("layers", "nodes") and isinstance(path[cut - 1], int):
            item = get(doc, path[:cut])
            if not isinstance(item, dict):
                return None
            outs = item.get("outputs")
            if isinstance(outs, list) and outs and isinstance(outs[0], str):
                return outs[0]
            cfg = item.get("config") if isinstance(item.get("config"), dict) else {}
            name = item.get("name") or cfg.get("name")
            return name if isinstance(name, str) else None
    return None


def edit(doc: Any, data: st.DataObject) -> tuple[Any, str]:
    """One structural edit drawn by hypothesis."""
    all_paths = paths(doc)
    op = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "swap", "int",
                                    "cycle", "index", "whole", "copy", "plausible",
                                    "plausible"]))
    path = all_paths[data.draw(st.integers(0, len(all_paths) - 1))]
    where = "$" + "".join(f"[{p!r}]" for p in path)
    if op == "replace" and path:
        value = data.draw(hostile)
        return put(doc, path, value), f"{where} = {_short(value)}"
    if op == "delete" and path:
        parent = get(doc, path[:-1])
        del parent[path[-1]]
        return doc, f"del {where}"
    if op == "swap":
        strings = [p for p in all_paths if isinstance(get(doc, p), str)]
        if len(strings) >= 2:
            a, b = (strings[data.draw(st.integers(0, len(strings) - 1))] for _ in range(2))
            value = get(doc, b)
            return put(doc, a, value), f"${list(a)} = {value!r} (taken from ${list(b)})"
    if op == "int":
        ints = [p for p in all_paths if isinstance(get(doc, p), int)]
        if ints:
            p = ints[data.draw(st.integers(0, len(ints) - 1))]
            value = data.draw(st.sampled_from([0, -1, 1, 2, 7, 2**31 - 1, 2**31, 2**62,
                                               -(2**31), 10**9]))
            return put(doc, p, value), f"${list(p)} = {value}"
    if op == "plausible":
        keyed = [p for p in all_paths if p and p[-1] in PLAUSIBLE]
        if keyed:
            p = keyed[data.draw(st.integers(0, len(keyed) - 1))]
            value = data.draw(st.sampled_from(PLAUSIBLE[p[-1]]))
            return put(doc, p, json.loads(json.dumps(value))), f"${list(p)} = {value!r}"
    ref_paths = refs(doc)
    if op == "cycle" and ref_paths:
        p = ref_paths[data.draw(st.integers(0, len(ref_paths) - 1))]
        own = layer_of(doc, p)
        if own:
            get(doc, p)[0] = own
            return doc, f"${list(p)}[0] = {own!r} (a layer fed by itself)"
    if op == "index" and ref_paths:
        p = ref_paths[data.draw(st.integers(0, len(ref_paths) - 1))]
        slot = data.draw(st.sampled_from([1, 2, 2]))
        value = data.draw(st.sampled_from([1, 2, 5, 2**31 - 1]))
        get(doc, p)[slot] = value
        return doc, f"${list(p)}[{slot}] = {value} (past the end)"
    if op == "whole":
        value = data.draw(st.sampled_from([None, [], "x", 1, {}, [{}], DEEP]))
        return value, f"whole document = {_short(value)}"
    if op == "copy" and path:
        src = all_paths[data.draw(st.integers(0, len(all_paths) - 1))]
        if src[:len(path)] != path:
            value = json.loads(json.dumps(get(doc, src)))
            return put(doc, path, value), f"{where} = copy of ${list(src)}"
    value = data.draw(hostile)
    return put(doc, path, value), f"{where} = {_short(value)}"


def _short(value: Any) -> str:
    return "deep nesting (100k levels, 25k in .h5)" if value == DEEP else repr(value)[:80]


def serialize(doc: Any, data: st.DataObject, depth: int = DEPTH) -> tuple[bytes, str]:
    """JSON text of ``doc``, with the deep sentinel expanded and maybe a broken encoding."""
    text = json.dumps(doc, allow_nan=True)
    sentinel = json.dumps(DEEP)
    if sentinel in text:
        nest = data.draw(st.sampled_from(["[", '{"a":']))
        close = "]" if nest == "[" else "}"
        text = text.replace(sentinel, nest * depth + "1" + close * depth, 1)
    how = data.draw(st.sampled_from(["utf-8"] * 8 + ["bad-utf8", "utf-16", "bom", "junk",
                                                     "dup-key"]))
    if how == "dup-key" and text.startswith("{") and len(text) > 2:
        text = '{"class_name": null, ' + text[1:]
    raw = text.encode("utf-8", "surrogatepass")
    if how == "bad-utf8":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff\xfe\xc3" + raw[at:]
    elif how == "utf-16":
        raw = text.encode("utf-16", "surrogatepass")
    elif how == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif how == "junk":
        raw = raw + b"\0garbage"
    return raw, "" if how in ("utf-8", "dup-key") else f" ({how})"


def mutant(seeds: list[Seed], ctx, data: st.DataObject) -> tuple[Seed, bytes, str]:
    """One JSON mutant: (seed, new file bytes, description)."""
    seed = data.draw(st.sampled_from(seeds))
    target = data.draw(st.sampled_from(docs.targets(seed)))
    raw = ctx.read(seed.path)
    doc = docs.read_doc(raw, target)
    what = []
    for _ in range(data.draw(st.integers(1, 3))):
        doc, desc = edit(doc, data)
        what.append(desc)
    text, enc = serialize(doc, data, H5_DEPTH if target == "model_config" else DEPTH)
    return seed, docs.write_doc(raw, target, text), f"{target}: " + "; ".join(what) + enc


def hypothesis_batch(build, n: int, seed: int) -> Iterator:
    """``n`` values of ``build(data)`` drawn by hypothesis from a fixed seed (generate phase
    only: cases are run by the harness, not inside hypothesis). A ``build`` failure (a bug of
    the fuzzer) is raised after the batch's good values."""
    out: list = []
    errors: list[Exception] = []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        try:
            out.append(build(data))
        except Exception as exc:  # reported by the harness, after the batch
            errors.append(exc)

    collect()
    yield from out
    if errors:
        raise errors[0]


def cases(seeds: list[Seed], rng: random.Random, ctx) -> Iterator[Case]:
    """Endless JSON-structure mutants, drawn in batches."""
    while True:
        batch = hypothesis_batch(lambda d: mutant(seeds, ctx, d), 200, rng.randrange(1 << 32))
        for seed, data, what in batch:
            yield file_case("json", seed, data, what, rng)
