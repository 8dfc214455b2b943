"""Where Keras 3 keeps each weight in ``model.weights.h5``: the saving walk's paths.

Keras 3 stores a model's layers under ``layers/<snake_case class>[_<k>]`` (the k-th layer of
that class in the model's layer list; operations are not layers), each layer's own variables
under ``vars/<i>`` in creation order, and those of its sub-objects under the attribute that
holds them: an RNN's ``cell``, a wrapper's ``layer`` / ``forward_layer`` / ``backward_layer``,
MultiHeadAttention's ``query_dense`` ... ``output_dense``, a stacked cell's ``cells``.
Keras 2 files list the same variables in the same order, flat: this module gives each its
Keras 3 path from the layer's class and config.
"""

from __future__ import annotations

from typing import Any

from kerasport.errors import KerasportError
from kerasport.keras.weights import saving_names

RNN_LAYERS = {"SimpleRNN", "LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
CELL_VARS = {"SimpleRNNCell", "LSTMCell", "GRUCell"}
MHA_PARTS = ("query_dense", "key_dense", "value_dense", "output_dense")


class LayoutError(KerasportError):
    """A layer's weights do not fit the Keras 3 layout its class and config imply."""


def _vars(n: int, prefix: str = "") -> list[str]:
    return [f"{prefix}vars/{i}" for i in range(n)]


def _inner(raw: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
        raise LayoutError(f"unreadable wrapped layer config: {str(raw)[:200]}")
    return str(raw.get("class_name")), raw["config"]


def _cell_count(class_name: str, config: dict[str, Any]) -> int:
    if class_name not in CELL_VARS:
        raise LayoutError(f"cells of class {class_name} have no known Keras 3 layout")
    return 3 if config.get("use_bias", True) else 2


def _stacked(cells: list[Any], n: int) -> list[str]:
    specs = [_inner(c) for c in cells]
    counts = [_cell_count(c, cfg) for c, cfg in specs]
    if sum(counts) != n:
        raise LayoutError(f"the stacked cells hold {n} weights, their configs imply "
                          f"{sum(counts)}")
    out: list[str] = []
    for name, count in zip(saving_names([c for c, _ in specs]), counts):
        out += _vars(count, f"cell/cells/{name}/")
    return out


def _rnn(config: dict[str, Any], n: int) -> list[str]:
    cell_class, cell_cfg = _inner(config.get("cell"))
    if cell_class == "StackedRNNCells":
        return _stacked(list(cell_cfg.get("cells") or []), n)
    return _vars(n, "cell/")


def _mha(config: dict[str, Any], n: int) -> list[str]:
    per = 2 if config.get("use_bias", True) else 1
    parts = list(MHA_PARTS)
    if config.get("use_gate"):  # created after key_dense; a private attribute
        parts.insert(2, "_gate_dense")
    if n != per * len(parts):
        raise LayoutError(f"MultiHeadAttention holds {n} weights, expected "
                          f"{per * len(parts)}")
    return [p for part in parts for p in _vars(per, f"{part}/")]


def _bidirectional(config: dict[str, Any], n: int) -> list[str]:
    if n % 2:
        raise LayoutError(f"a Bidirectional layer holds an odd number of weights ({n})")
    fw_class, fw_cfg = _inner(config.get("layer"))
    bw_class, bw_cfg = _inner(config.get("backward_layer") or config.get("layer"))
    return ([f"forward_layer/{p}" for p in weight_paths(fw_class, fw_cfg, n // 2)]
            + [f"backward_layer/{p}" for p in weight_paths(bw_class, bw_cfg, n // 2)])


def weight_paths(class_name: str, config: dict[str, Any], n: int) -> list[str]:
    """The paths (inside the layer's group) of a layer's ``n`` weights, in Keras' variable
    order, as Keras 3 saves them."""
    if n == 0:
        return []
    if class_name in RNN_LAYERS:
        return _vars(n, "cell/")
    if class_name == "RNN":
        return _rnn(config, n)
    if class_name == "Bidirectional":
        return _bidirectional(config, n)
    if class_name == "TimeDistributed":
        inner_class, inner_cfg = _inner(config.get("layer"))
        return [f"layer/{p}" for p in weight_paths(inner_class, inner_cfg, n)]
    if class_name == "MultiHeadAttention":
        return _mha(config, n)
    if class_name in ("GroupedQueryAttention", "GroupQueryAttention"):
        raise LayoutError("GroupQueryAttention's sub-layer layout is kept from .keras files "
                          "only; save the source as .keras")
    return _vars(n)
