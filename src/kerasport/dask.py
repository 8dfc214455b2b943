"""Bulk prediction on Dask (extra ``kerasport[dask]``): the model travels to the workers once,
as bundle bytes, and each block of rows runs through ``Model.predict`` on the chosen engine.

    import kerasport.dask
    y = kerasport.dask.predict("model.keras", x)   # x: a dask array, y: a lazy dask array
    y.compute()                                   # local threads, or a distributed Client

``x`` may also be a list (or a dict by input name) of dask arrays for a model with several
inputs, or a dask DataFrame whose ``columns`` are the features of a one-input model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.errors import InputError, MissingExtraError
from kerasport.model import Model, as_list
from kerasport.workers import Payload, load_payload, to_payload


def _dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise MissingExtraError("kerasport.dask needs dask: pip install 'kerasport[dask]'") \
            from exc
    return dask, da


def run_block(payload: Payload, engine: str, batch_size: int | None, threads: int | None,
              *blocks: np.ndarray) -> list[np.ndarray]:
    """On a worker: the outputs for one block of rows (the model loaded once per process)."""
    model = load_payload(payload, engine, threads)
    return as_list(model.predict(list(blocks) if len(blocks) > 1 else blocks[0],
                                 batch_size=batch_size))


def _one_output(block: np.ndarray, payload: Payload, engine: str, batch_size: int | None,
                threads: int | None) -> np.ndarray:
    return run_block(payload, engine, batch_size, threads, block)[0]


def _frame_columns(frame: Any, columns: Any, model: Model) -> list:
    if len(model.input_names) != 1:
        raise InputError(f"a DataFrame feeds a one-input model; this one takes "
                         f"{model.input_names}: pass a dict of dask arrays by input name")
    cols = list(frame.columns) if columns is None else list(columns)
    unknown = [c for c in cols if c not in frame.columns]
    if unknown:
        raise InputError(f"columns {unknown} are not in the DataFrame ({list(frame.columns)})")
    return [frame[cols].to_dask_array(lengths=True)]


def _inputs(model: Model, x: Any, columns: Any, da: Any) -> list:
    """The inputs as dask arrays in graph order: checked against the model's shapes, cast
    to its dtypes, rows chunked alike and every other axis in one chunk."""
    names = model.input_names
    if hasattr(x, "to_dask_array") and hasattr(x, "columns"):
        items = _frame_columns(x, columns, model)
    elif isinstance(x, dict):
        if set(x) != set(names):
            raise InputError(f"inputs by name: got {sorted(x)}, the model's inputs are {names}")
        items = [x[n] for n in names]
    else:
        items = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(items) != len(names):
        raise InputError(f"the model takes {len(names)} inputs ({', '.join(names)}), got "
                         f"{len(items)}")
    arrays = []
    for name, item in zip(names, items):
        a = item if isinstance(item, da.Array) else da.asarray(item)
        want = model.graph.values[name].shape
        if a.ndim != len(want) or any(w is not None and w != g for w, g in
                                      zip(want[1:], a.shape[1:])):
            raise InputError(f"input '{name}' expects shape {tuple(want)}, got a dask array "
                             f"of shape {a.shape}")
        if any(np.isnan(c) for c in a.chunks[0]):
            raise InputError(f"input '{name}': unknown chunk sizes; call "
                             "x.compute_chunk_sizes() (or to_dask_array(lengths=True))")
        a = a.astype(model.graph.values[name].dtype)
        arrays.append(a.rechunk({i: -1 for i in range(1, a.ndim)}))
    if len({a.shape[0] for a in arrays}) != 1:
        raise InputError(f"all inputs must have the same rows, got {[a.shape[0] for a in arrays]}")
    rows = arrays[0].chunks[0]
    return [a.rechunk({0: rows}) for a in arrays]


def _structure(model: Model, outs: list) -> Any:
    if model.graph.output_structure == "single":
        return outs[0]
    if model.graph.output_structure == "dict":
        return dict(zip(model.output_names, outs))
    return outs


def predict(model: Any, x: Any, engine: str = "numpy", batch_size: int | None = None,
            columns: Any = None, threads: int | None = None) -> Any:
    """A lazy dask array (or list / dict of them, as ``Model.predict`` returns) of the model's
    outputs for ``x``, chunked along rows as ``x`` is. ``model``: a kerasport Model, a model
    or bundle path, bundle bytes or a Payload; ``engine``: as ``kerasport.load`` (built once
    per worker); ``batch_size``: predict's batch within a block; ``columns``: the DataFrame
    columns that form the input (default: all); ``threads``: a native engine's threads on
    each worker (None: the engine's default)."""
    dask, da = _dask()
    payload = to_payload(model)
    local = load_payload(payload)  # names, shapes and output dtypes, here on the client
    arrays = _inputs(local, x, columns, da)
    samples = local.numpy_run([np.zeros((1, *a.shape[1:]), a.dtype) for a in arrays])
    ref = dask.delayed(payload, name=f"kerasport-model-{payload.digest[:16]}")
    rows = arrays[0].chunks[0]
    if len(arrays) == 1 and len(samples) == 1:
        a, out = arrays[0], samples[0]
        extra = {}
        if out.ndim < a.ndim:
            extra["drop_axis"] = list(range(out.ndim, a.ndim))
        elif out.ndim > a.ndim:
            extra["new_axis"] = list(range(a.ndim, out.ndim))
        y = da.map_blocks(_one_output, a, ref, engine, batch_size, threads, dtype=out.dtype,
                          chunks=(rows, *[(d,) for d in out.shape[1:]]),
                          meta=np.empty((0,) * out.ndim, out.dtype), **extra)
        return _structure(local, [y])
    run = dask.delayed(run_block, nout=len(samples), pure=True)
    blocks = [a.to_delayed().ravel() for a in arrays]
    results = [run(ref, engine, batch_size, threads, *[b[i] for b in blocks])
               for i in range(len(rows))]
    outs = [da.concatenate([da.from_delayed(r[j], (n, *s.shape[1:]), s.dtype)
                            for r, n in zip(results, rows)]) for j, s in enumerate(samples)]
    return _structure(local, outs)
