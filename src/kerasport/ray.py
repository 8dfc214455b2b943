"""Bulk prediction on Ray Data (extra ``kerasport[ray]``): a callable class for
``Dataset.map_batches``; each actor loads the model once from bundle bytes.

    import kerasport.ray
    payload = kerasport.ray.payload("model.keras")          # bundle bytes + digest
    ds = ds.map_batches(kerasport.ray.Predictor, batch_format="numpy", concurrency=2,
                        fn_constructor_kwargs={"model": payload, "engine": "onnxruntime"})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kerasport.errors import InputError
from kerasport.model import as_list
from kerasport.workers import Payload, load_payload, to_payload


def payload(model: Any) -> Payload:
    """The bytes that carry ``model`` (a Model, a model or bundle path) to the actors."""
    return to_payload(model)


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n] - 1}")
    return out


class Predictor:
    """Runs a kerasport model on Ray Data batches (dicts of NumPy arrays).

    ``input_columns``: None (columns named like the model's inputs; a one-input model also
    takes a batch with a single column), a list of columns for a one-input model (several
    scalar columns are stacked as its features), or a dict input name -> column(s).
    ``output_columns``: names for the outputs (default: the model's output names);
    ``keep_columns``: batch columns copied to the result; ``engine`` and ``threads``: as
    ``kerasport.load``.
    """

    def __init__(self, model: Any, engine: str = "numpy", input_columns: Any = None,
                 output_columns: Sequence[str] | None = None, batch_size: int | None = None,
                 keep_columns: Sequence[str] = (), threads: int | None = None):
        self.model = load_payload(to_payload(model), engine, threads)
        names = self.model.input_names
        if isinstance(input_columns, Mapping):
            self.columns = {n: input_columns.get(n, n) for n in names}
        elif input_columns is not None:
            if len(names) != 1:
                raise InputError(f"the model takes {names}: give input_columns as a dict by "
                                 "input name")
            self.columns = {names[0]: list(input_columns)}
        else:
            self.columns = {n: None for n in names}
        outs = _unique(self.model.output_names) if output_columns is None else list(
            output_columns)
        if len(outs) != len(self.model.output_names):
            raise InputError(f"{len(outs)} output_columns for {len(self.model.output_names)} "
                             "outputs")
        self.output_columns, self.batch_size = outs, batch_size
        self.keep_columns = list(keep_columns)

    def _column(self, batch: Mapping[str, np.ndarray], name: str, spec: Any) -> np.ndarray:
        if spec is None:
            if name in batch:
                return np.asarray(batch[name])
            if len(self.columns) == 1 and len(batch) == 1:
                return np.asarray(next(iter(batch.values())))
            spec = name
        cols = [spec] if isinstance(spec, str) else list(spec)
        missing = [c for c in cols if c not in batch]
        if missing:
            raise InputError(f"input '{name}': columns {missing} not in the batch (columns "
                             f"{sorted(batch)})")
        if len(cols) == 1:
            return np.asarray(batch[cols[0]])
        return np.stack([np.asarray(batch[c]) for c in cols], axis=1)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The outputs for one batch (use ``batch_format="numpy"``), keyed by output column."""
        if hasattr(batch, "to_dict") and hasattr(batch, "columns"):  # a pandas batch
            batch = {c: batch[c].to_numpy() for c in batch.columns}
        feed = [self._column(batch, n, spec) for n, spec in self.columns.items()]
        outs = as_list(self.model.predict(feed if len(feed) > 1 else feed[0],
                                          batch_size=self.batch_size))
        result = {c: np.asarray(batch[c]) for c in self.keep_columns}
        result.update(zip(self.output_columns, outs))
        return result
