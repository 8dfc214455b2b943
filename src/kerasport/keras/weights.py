"""Weight sources: where each layer's arrays live in a .keras or .h5 file.

A layer's weights come back as an ordered list of ``(short name or None, array)`` in Keras'
variable order (e.g. kernel, bias; gamma, beta, moving mean, moving variance). The order comes
from the saving walk (.keras) or the ``weight_names`` attribute (.h5), never from HDF5's
alphabetical order.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import h5py
import numpy as np

from kerasport.errors import WeightsError
from kerasport.keras.h5safe import H5_ERRORS

Weights = list[tuple[str | None, np.ndarray]]


def snake_case(name: str, keras_major: int = 3, digits: bool = False) -> str:
    """Keras' to_snake_case. Some Keras 2 releases also split before a capital followed by
    digits (``ConvLSTM2D`` -> ``conv_lst_m2d`` instead of ``conv_lstm2d``): ``digits``."""
    if keras_major >= 3:
        name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z0-9]+)" if digits else "(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    if keras_major < 3 and name[0] == "_":
        return "private" + name
    return name


# class names whose .keras weight group is named after another class (Keras 3 writes
# GroupedQueryAttention's class as "GroupQueryAttention")
_CLASS_ALIASES = {"Model": "Functional", "GroupQueryAttention": "GroupedQueryAttention"}


def saving_names(class_names: list[str], keras_major: int = 3,
                 digits: bool = False) -> list[str]:
    """The group names Keras' saving walk gives a list of objects in a .keras file:
    ``<snake_case class>``, then ``<snake_case class>_<k>`` for the k-th repeat."""
    used: dict[str, int] = {}
    out = []
    for class_name in class_names:
        base = snake_case(_CLASS_ALIASES.get(class_name, class_name), keras_major, digits)
        used[base] = used.get(base, -1) + 1
        out.append(f"{base}_{used[base]}" if used[base] else base)
    return out


class WeightSource(Protocol):
    """Where the weights of one model's layers are."""

    def layer(self, name: str) -> Weights:
        """The weights of layer ``name`` (empty if it has none)."""
        ...

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        """The source for nested model ``name`` whose layers are ``layers``."""
        ...

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        """The source for the model wrapped by layer ``name`` (TimeDistributed(model))."""
        ...

    def assets(self, name: str) -> dict[str, bytes]:
        """Files Keras stored for layer ``name`` (a lookup layer's vocabulary.txt), by name."""
        ...


def _read(ds: Any, where: str) -> np.ndarray:
    if not isinstance(ds, h5py.Dataset):
        raise WeightsError(f"weight '{where}' is not a dataset")
    if ds.dtype.kind not in "biuf":
        raise WeightsError(f"weight '{where}' has dtype {ds.dtype}, not a number type")
    try:
        return np.asarray(ds[()])
    except H5_ERRORS as exc:  # h5py raises OSError/KeyError/RuntimeError on damaged files
        raise WeightsError(f"cannot read weight '{where}': {exc}") from exc


def _walk(group: h5py.Group, layer: str, prefix: str) -> Weights:
    """A layer's own vars, then those of its sub-objects (an RNN's cell, a wrapper's layers),
    each with its path inside the layer (e.g. "forward_layer/cell/vars/0")."""
    out: Weights = []
    if "vars" in group:
        vars_ = group["vars"]
        if not isinstance(vars_, h5py.Group):
            raise WeightsError(f"the weights of layer '{layer}' ({prefix}vars) are not a group")
        keys = list(vars_)
        numbered = sorted(keys) == sorted(str(i) for i in range(len(keys)))
        # variables are numbered in creation order; a layer's own store (the lookup layers'
        # idf_weights) names them instead
        order = [str(i) for i in range(len(keys))] if numbered else sorted(keys)
        out += [(f"{prefix}vars/{k}", _read(vars_[k], f"{layer}/{prefix}vars/{k}"))
                for k in order]
    for key in sorted(k for k in group if k != "vars"):
        if isinstance(group[key], h5py.Group):
            out += _walk(group[key], layer, f"{prefix}{key}/")
    return out


class KerasV3Weights:
    """Weights of a .keras archive: ``layers/<snake_case class>[_<k>]/vars/<i>``."""

    def __init__(self, group: h5py.Group, layers: list[tuple[str, str]], keras_major: int,
                 archive_assets: dict[str, bytes] | None = None, prefix: str = ""):
        self.group = group
        self.keras_major = keras_major
        # the archive's assets/ entries (path below assets/ -> bytes), and where this model's
        # objects sit in the saving walk ("" for the top model)
        self.archive_assets = archive_assets or {}
        self.prefix = prefix
        classes = [c for _, c in layers]
        paths = saving_names(classes, keras_major)
        if keras_major < 3 and "layers" in group:  # the snake_case of older Keras 2 releases
            older = saving_names(classes, keras_major, digits=True)
            stored = set(group["layers"])
            if sum(p in stored for p in older) > sum(p in stored for p in paths):
                paths = older
        self.paths: dict[str, str] = {name: path for (name, _), path in zip(layers, paths)}

    def _group(self, name: str) -> h5py.Group | None:
        path = self.paths.get(name)
        if path is None or "layers" not in self.group:
            return None
        return self.group["layers"].get(path)

    def layer(self, name: str) -> Weights:
        group = self._group(name)
        return [] if group is None else _walk(group, name, "")

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        group = self._group(name)
        if group is None:
            raise WeightsError(f"no weights stored for nested model '{name}'")
        return KerasV3Weights(group, layers, self.keras_major, self.archive_assets,
                              f"{self.prefix}layers/{self.paths[name]}/")

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        group = self._group(name)
        if group is None or "layer" not in group:
            raise WeightsError(f"no weights stored for the model wrapped by '{name}'")
        return KerasV3Weights(group["layer"], layers, self.keras_major, self.archive_assets,
                              f"{self.prefix}layers/{self.paths[name]}/layer/")

    def assets(self, name: str) -> dict[str, bytes]:
        path = self.paths.get(name)
        if path is None:
            return {}
        base = f"{self.prefix}layers/{path}/"
        return {k[len(base):]: v for k, v in self.archive_assets.items()
                if k.startswith(base) and "/" not in k[len(base):]}


class H5Weights:
    """Weights of a legacy .h5 model: group ``model_weights/<layer>`` with ``weight_names``."""

    def __init__(self, group: h5py.Group):
        self.group = group

    def _entries(self, name: str) -> list[tuple[str, h5py.Dataset]]:
        if name not in self.group:
            return []
        g = self.group[name]
        if not isinstance(g, h5py.Group):
            raise WeightsError(f"the weights of layer '{name}' are not an HDF5 group")
        raw = g.attrs.get("weight_names", [])
        if not isinstance(raw, (np.ndarray, list)) or np.ndim(raw) != 1:
            raise WeightsError(f"layer '{name}': unreadable weight_names attribute")
        names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in raw]
        out = []
        for n in names:
            if n not in g:
                raise WeightsError(f"weight '{n}' of layer '{name}' is listed but missing")
            out.append((n, g[n]))
        return out

    def layer(self, name: str) -> Weights:
        return [(n, _read(ds, n)) for n, ds in self._entries(name)]

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return H5NestedWeights(self._entries(name))

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return H5NestedWeights(self._entries(name))

    def assets(self, name: str) -> dict[str, bytes]:
        return {}  # .h5 files keep no assets


class H5NestedWeights:
    """The flat weight list of a nested model in a .h5 file, split by layer name."""

    def __init__(self, entries: list[tuple[str, h5py.Dataset]]):
        self.entries = entries

    def _select(self, name: str) -> list[tuple[str, h5py.Dataset]]:
        return [(n, ds) for n, ds in self.entries if name in n.split("/")[:-1]]

    def layer(self, name: str) -> Weights:
        return [(n, _read(ds, n)) for n, ds in self._select(name)]

    def submodel(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        # Keras 3 prefixes nested weights with the model's name; Keras 2 does not.
        return H5NestedWeights(self._select(name) or self.entries)

    def wrapped(self, name: str, layers: list[tuple[str, str]]) -> WeightSource:
        return H5NestedWeights(self._select(name))

    def assets(self, name: str) -> dict[str, bytes]:
        return {}
