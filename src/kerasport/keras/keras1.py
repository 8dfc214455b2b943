"""Keras 1.x layer configs (Keras 1.1-1.2 ``model.save``), mapped onto the Keras 2 names the
converters read.

Keras 1 named layers and keys differently: ``Convolution2D(nb_filter, nb_row, nb_col,
border_mode, subsample, dim_ordering)``, ``Dense(output_dim)``, ``Dropout(p)``,
``LSTM(inner_activation, dropout_W)``, ``Merge(mode)`` and so on. Weight layouts are Keras 2's
(kernels ``(..., in, out)``, LSTM gates i, f, c, o; GRU z, r, h with the reset applied before
the matrix product, i.e. ``reset_after=False``) except Convolution1D, whose kernel Keras 1 kept
as ``(length, 1, in, out)``: :class:`Keras1Weights` drops that axis. ``dim_ordering="th"``
becomes ``data_format="channels_first"``, which the converters refuse with their own message;
``Merge`` with a Python function and BatchNormalization ``mode`` 1/2 (batch statistics at
inference) are left under names no converter claims, so they are reported as unsupported.
"""

from __future__ import annotations

from typing import Any

from kerasport.keras.weights import Weights, WeightSource

RENAMED = {"Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
           "AtrousConvolution1D": "Conv1D", "AtrousConvolution2D": "Conv2D"}
MERGE_MODES = {"sum": "Add", "mul": "Multiply", "ave": "Average", "max": "Maximum",
               "concat": "Concatenate", "dot": "Dot"}
# Keras 1 key -> Keras 2 key, for every layer that has it
KEYS = {"output_dim": "units", "bias": "use_bias", "border_mode": "padding",
        "p": "rate", "inner_activation": "recurrent_activation", "dropout_W": "dropout",
        "dropout_U": "recurrent_dropout", "input_dtype": "dtype", "nb_filter": "filters",
        "atrous_rate": "dilation_rate"}
_ORDERING = {"tf": "channels_last", "th": "channels_first", "default": "channels_last"}
_RECURRENT = {"LSTM", "GRU", "SimpleRNN"}


def _renamed(cfg: dict[str, Any], class_name: str) -> dict[str, Any]:
    out = {}
    for key, value in cfg.items():
        new = KEYS.get(key, key)
        if key == "output_dim" and class_name == "Embedding":
            new = key  # Embedding kept output_dim
        out.setdefault(new, value)
    if "dim_ordering" in out:
        out["data_format"] = _ORDERING.get(str(out.pop("dim_ordering")), "channels_last")
    return out


def _spatial(cls: str, cfg: dict[str, Any]) -> None:
    if "nb_row" in cfg:
        cfg["kernel_size"] = [cfg.pop("nb_row"), cfg.pop("nb_col")]
    if "nb_dim1" in cfg:
        cfg["kernel_size"] = [cfg.pop("nb_dim1"), cfg.pop("nb_dim2"), cfg.pop("nb_dim3")]
    if "filter_length" in cfg:
        cfg["kernel_size"] = [cfg.pop("filter_length")]
    if "subsample_length" in cfg:
        cfg["strides"] = [cfg.pop("subsample_length")]
    if "subsample" in cfg:
        cfg["strides"] = list(cfg.pop("subsample"))
    if "pool_length" in cfg:  # MaxPooling1D / AveragePooling1D
        length = cfg.pop("pool_length")
        cfg["pool_size"] = [length]
        cfg["strides"] = [cfg.pop("stride", None) or length]
    if cls.endswith(("Pooling2D", "Pooling3D")) and cfg.get("strides") is None:
        cfg["strides"] = cfg.get("pool_size")
    if isinstance(cfg.get("dilation_rate"), int):
        cfg["dilation_rate"] = [cfg["dilation_rate"]] * (2 if cls.endswith("2D") else 1)


def upgrade_layer(class_name: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A Keras 1 layer's (class name, config) in Keras 2 form."""
    cls = RENAMED.get(class_name, class_name)
    cfg = _renamed(config, cls)
    _spatial(cls, cfg)
    if cls == "Merge":
        mode = cfg.get("mode")
        if isinstance(mode, str) and mode in MERGE_MODES:
            cls = MERGE_MODES[mode]
            if cls == "Concatenate":
                cfg["axis"] = cfg.get("concat_axis", -1)
            if cls == "Dot":
                cfg["axes"] = cfg.get("dot_axes", -1)
    elif cls == "BatchNormalization" and cfg.get("mode", 0) != 0:
        cls = f"BatchNormalization(mode={cfg.get('mode')})"
    elif cls == "GRU":
        cfg.setdefault("reset_after", False)
    if cls in _RECURRENT:
        cfg.setdefault("use_bias", True)
    return cls, cfg


def conv1d_layers(config: Any) -> set[str]:
    """The names of every Convolution1D layer in a raw Keras 1 model config (nested too)."""
    found: set[str] = set()
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") in ("Convolution1D", "AtrousConvolution1D"):
                cfg = item.get("config")
                if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
                    found.add(cfg["name"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class Keras1Weights:
    """A Keras 1 file's weight source: Convolution1D kernels ``(length, 1, in, out)`` become
    ``(length, in, out)``; everything else passes through."""

    def __init__(self, inner: WeightSource, conv1d: set[str]):
        self.inner, self.conv1d = inner, conv1d

    def layer(self, name: str) -> Weights:
        found = self.inner.layer(name)
        if name not in self.conv1d:
            return found
        return [(n, a[:, 0] if a.ndim == 4 and a.shape[1] == 1 else a) for n, a in found]

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return Keras1Weights(self.inner.submodel(name, layers), self.conv1d)

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return Keras1Weights(self.inner.wrapped(name, layers), self.conv1d)

    def assets(self, name: str) -> dict[str, bytes]:
        return {}


def is_keras1(version: str) -> bool:
    """Whether a stored keras_version is 1.x."""
    return str(version).strip().startswith("1.")
