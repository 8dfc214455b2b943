"""Predict inputs described as JSON specs (so a case can be saved and replayed), built into
Python/NumPy objects in the worker. A spec is a dict with a type tag ``t``:

- ``ref``: the seed's reference input (``i``: one input, else what the model expects), then
  optionally cast (``dtype``), filled (``fill``) or transformed (``transform``);
- ``broadcast``: a zero-strided array of any ``shape`` (huge dims cost nothing);
- ``array``: ``np.full(shape, fill, dtype)``; ``float``: ``float(v)`` ("nan", "inf");
- ``value``: a JSON value as is; ``np``: a NumPy scalar ``np.<kind>(v)``;
- ``list``/``tuple``/``dict``/``object``: containers of specs (``dict`` keys "$k" name the
  k-th model input); ``tolist``/``ragged``: a reference input as (ragged) nested lists;
- ``special``: a generator, bytes, memoryview, masked array, set or Ellipsis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TRANSFORMS = ["T", "squeeze0", "add_axis", "empty_batch", "flatten", "fortran", "strided",
              "readonly", "big_endian", "zero_dim", "one_row", "noncontig_last"]
SPECIALS = ["generator", "bytes", "memoryview", "masked", "set", "ellipsis", "none", "str"]


def _transform(x: np.ndarray, how: str) -> Any:
    if how == "T":
        return x.T
    if how == "squeeze0":
        return x[0]
    if how == "add_axis":
        return x[None]
    if how == "empty_batch":
        return x[:0]
    if how == "flatten":
        return x.reshape(len(x), -1)
    if how == "fortran":
        return np.asfortranarray(x)
    if how == "strided":
        return np.repeat(x, 2, axis=0)[::2]
    if how == "readonly":
        y = x.copy()
        y.flags.writeable = False
        return y
    if how == "big_endian":
        return x.astype(x.dtype.newbyteorder(">"))
    if how == "zero_dim":
        return np.zeros((len(x), *([0] * (x.ndim - 1))), x.dtype)
    if how == "one_row":
        return x[:1]
    if how == "noncontig_last":
        return np.repeat(x, 2, axis=-1)[..., ::2]
    raise ValueError(f"unknown transform {how}")


def _special(kind: str, ref: list[np.ndarray]) -> Any:
    if kind == "generator":
        return (a for a in ref)
    if kind == "bytes":
        return ref[0].tobytes()
    if kind == "memoryview":
        return memoryview(np.ascontiguousarray(ref[0]))
    if kind == "masked":
        return np.ma.masked_less(ref[0], 0)
    if kind == "set":
        return {1, 2}
    if kind == "ellipsis":
        return ...
    if kind == "str":
        return "x"
    return None


def build_input(spec: Any, ref: list[np.ndarray], names: list[str]) -> Any:
    """The object a spec describes (see the module docstring)."""
    if not isinstance(spec, dict):
        return spec
    t = spec["t"]
    if t == "ref":
        idx = spec.get("i")
        items = ref if idx is None else [ref[idx % len(ref)]]
        out = []
        for x in items:
            if spec.get("dtype"):
                x = x.astype(spec["dtype"]) if spec["dtype"] != "object" else \
                    x.astype(object)
            if spec.get("fill") is not None:
                x = np.full_like(x, float(spec["fill"]) if x.dtype.kind in "fc" else 1)
            if spec.get("transform"):
                x = _transform(x, spec["transform"])
            out.append(x)
        return out[0] if len(out) == 1 else out
    if t == "broadcast":
        shape = tuple(spec["shape"])
        if np.prod([float(d) for d in shape]) >= 2.0**62:  # NumPy's limit on element counts
            shape = tuple(min(d, 2**31) for d in shape)
        return np.broadcast_to(np.zeros((), spec.get("dtype", "float32")), shape)
    if t == "array":
        return np.full(tuple(spec["shape"]), float(spec.get("fill", 0)), spec.get("dtype",
                                                                                "float32"))
    if t == "float":
        return float(spec["v"])
    if t == "value":
        return spec["v"]
    if t == "np":
        return getattr(np, spec["kind"])(float(spec["v"]) if "float" in spec["kind"]
                                         else spec["v"])
    if t in ("list", "tuple"):
        items = [build_input(s, ref, names) for s in spec["items"]]
        return items if t == "list" else tuple(items)
    if t == "dict":
        out = {}
        for key, sub in spec["items"]:
            if isinstance(key, str) and key.startswith("$") and names:
                key = names[int(key[1:]) % len(names)]
            out[key] = build_input(sub, ref, names)
        return out
    if t == "object":
        items = [build_input(s, ref, names) for s in spec["items"]]
        arr = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            arr[i] = item
        return arr
    if t in ("tolist", "ragged"):
        rows = ref[spec.get("i", 0) % len(ref)].tolist()
        if t == "ragged" and rows:
            last = rows[-1]
            rows[-1] = last[: max(0, len(last) - 1)] if isinstance(last, list) else [last, 1]
        return rows
    if t == "special":
        return _special(spec["v"], ref)
    raise ValueError(f"unknown input spec {t}")
