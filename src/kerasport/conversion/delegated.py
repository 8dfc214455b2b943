"""Sources by delegation in ``kerasport convert`` and ``kerasport batch``: a TorchScript
``.pt``, a network script ``.py`` (``network_name``), a TensorFlow SavedModel without Keras
metadata, a frozen ``.pb`` or a checkpoint ``.meta`` is exported to ONNX by its own framework
in kerasport.delegate's worker process, read back, then converted like any other model. The
report gains a line with the framework's own output against kerasport's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from kerasport.errors import InputError

TORCH_SUFFIXES = (".pt", ".pth", ".py")
TF_SUFFIXES = (".pb", ".meta")
KINDS = {"torchscript": ("PyTorch", "TorchScript module"),
         "script": ("PyTorch", "network script's module"),
         "saved_model": ("TensorFlow", "SavedModel (tf2onnx)"),
         "frozen": ("TensorFlow", "frozen graph (tf2onnx)"),
         "checkpoint": ("TensorFlow", "checkpoint graph (tf2onnx)")}


def parse_shape(value: Any) -> tuple[int, ...] | None:
    """``--input-shape``: "1,3,224,224" or a sequence of positive ints, as a tuple."""
    if value is None:
        return None
    items = str(value).split(",") if isinstance(value, str) else value
    try:
        dims = tuple(int(d) for d in items)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--input-shape expects comma-separated positive ints (e.g. "
                         f"1,3,224,224), got '{value}'") from exc
    if not dims or any(d < 1 for d in dims):
        raise InputError(f"--input-shape expects positive ints, got '{value}'")
    return dims


def parse_names(value: Any, what: str) -> tuple[str, ...] | None:
    """``--input-nodes``/``--output-nodes``: "x:0,y:0" or a sequence of names, as a tuple."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(v, str) and v for v in items):
        raise InputError(f"--{what} expects comma-separated tensor names (e.g. x:0), got "
                         f"'{value}'")
    return tuple(items)


def delegated_framework(source: str) -> str | None:
    """"torch" or "tensorflow" when ``source`` is converted by delegation, else None (a file
    kerasport reads itself)."""
    from kerasport.bundle import is_bundle
    from kerasport.keras.files import sniff
    from kerasport.keras.savedmodel import has_keras_metadata, is_saved_model

    if is_saved_model(source):
        return None if has_keras_metadata(source) else "tensorflow"
    if not os.path.isfile(source):
        return None
    if source.endswith(TF_SUFFIXES):
        return "tensorflow"
    if source.endswith(".py"):
        return "torch"
    if source.endswith((".pt", ".pth")):  # TorchScript is a zip; so is a bundle
        return None if sniff(source) == "zip" and is_bundle(source) else "torch"
    return None


def _needs(source: str, options: Any, what: str, example: str) -> None:
    if getattr(options, what) is None:
        flag = "--" + what.replace("_", "-")
        raise InputError(f"{source}: converted by its own framework in a worker, which needs "
                         f"{flag} (e.g. {flag} {example})")


def load_delegated(source: str, framework: str, options: Any) -> Any:
    """Export ``source`` with its framework in the worker and read the ONNX file: a Model
    whose reference is the framework's own output (``meta["error_vs_source"]``)."""
    from kerasport import delegate

    _needs(source, options, "input_shape", "1,3,224,224")
    if framework == "torch":
        if source.endswith(".py"):
            _needs(source, options, "network_name", "Net")
        elif options.network_name:
            raise InputError(f"{source}: --network-name names a class in a network script "
                             "(.py); a TorchScript file holds its module")
        return delegate.from_torch(source, options.input_shape, options.network_name,
                                   weights=options.weights_file)
    if not os.path.isdir(source):
        _needs(source, options, "input_nodes", "x:0")
        _needs(source, options, "output_nodes", "Identity:0")
    nodes = options.input_nodes, options.output_nodes
    return delegate.from_tensorflow(source, options.input_shape,
                                    *(list(n) if n else None for n in nodes))


def load_source(source: str, options: Any) -> Any:
    """The model ``kerasport.convert`` converts: by delegation for PyTorch and TensorFlow
    sources, else ``kerasport.load`` (with the options' weights file)."""
    from kerasport.api import load

    framework = delegated_framework(source)
    if framework == "tensorflow" and os.path.isdir(source) and options.input_shape is None:
        framework = None  # kerasport.load's error tells what the SavedModel is and what to do
    if framework is not None:
        return load_delegated(source, framework, options)
    if options.input_shape or options.network_name or options.input_nodes or \
            options.output_nodes:
        raise InputError(f"{source}: --input-shape, --network-name, --input-nodes and "
                         "--output-nodes are for sources converted by their own framework "
                         "(.pt, .py, a SavedModel without Keras metadata, .pb, .meta)")
    return load(source, weights=options.weights_file) if options.weights_file else load(source)


def source_line(model: Any) -> str | None:
    """The report line of a delegated source: the framework's output vs kerasport's."""
    err = model.meta.get("error_vs_source")
    if err is None:
        return None
    framework, what = KINDS.get(model.meta.get("source_format"), ("its framework", "model"))
    return (f"source: a {what} exported to ONNX by {framework} in a worker process; "
            f"{framework}'s own output vs kerasport's: max relative error {err:.2e}")
