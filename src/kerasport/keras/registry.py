"""The layer-converter registry and the context a converter works in.

A converter is a named function ``convert(ctx, inputs) -> outputs`` taking the IR value names
of the layer's input tensors and returning those of its outputs. Register it with
:func:`register_converter`; the registry refuses the same class twice unless ``replace=True``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kerasport.errors import KerasportError, LayerIssue, WeightsError
from kerasport.keras.activation_table import (
    ACTIVATIONS,
    LINEAR,
    activation_op,
    supported_activations,
)

if TYPE_CHECKING:
    from kerasport.ir.builder import Builder
    from kerasport.keras.config import CallNode, LayerSpec

Converter = Callable[["LayerContext", list[str]], list[str]]


# What a converter does with the Keras mask of its inputs (Keras' compute_mask):
# "pass": the first input's mask goes on unchanged to the first output;
# "merge": Keras' merging layers (Keras 3: or of the masks when every input has one; Keras 2:
#   and of the masks present);
# "own": the converter sets ``ctx.output_masks`` itself (no mask where it sets none);
# "drop": no output carries a mask.
# Built-in converters always declare it (tests/test_registry_masks.py checks); a user's
# converter that does not (mask=None) drops masks, as a Keras layer without masking support.
MASK_RULES = ("pass", "merge", "own", "drop")
MaskRule = Literal["pass", "merge", "own", "drop"]


@dataclass(frozen=True)
class Registration:
    """A converter and how the walk should treat its inputs and their masks."""

    fn: Converter
    cast_inputs: bool = True
    mask: MaskRule | None = None


CONVERTERS: dict[str, Registration] = {}


def register_converter(*class_names: str, replace: bool = False, cast_inputs: bool = True,
                       mask: MaskRule | None = None):
    """Register a converter for Keras layer classes (by class name or registered name).

    ``mask`` says what the layer does with a Keras mask on its inputs (see MASK_RULES):
    "pass", "merge", "own" (the converter sets ``ctx.output_masks``) or "drop".

    Example, for a custom layer ``MyScale`` whose weight ``w`` multiplies the input::

        @kerasport.register_converter("MyScale", mask="pass")
        def my_scale(ctx, inputs):
            (w,) = ctx.weights_as(["w"])
            return [ctx.op("Mul", [inputs[0], ctx.const("w", w)])]
    """
    if mask is not None and mask not in MASK_RULES:
        raise KerasportError(f"mask={mask!r}: choose one of {', '.join(MASK_RULES)}")

    def deco(fn: Converter) -> Converter:
        for name in class_names:
            if name in CONVERTERS and not replace:
                raise KerasportError(
                    f"a converter for '{name}' is already registered "
                    f"({CONVERTERS[name].fn.__module__}.{CONVERTERS[name].fn.__name__}); pass "
                    "replace=True to override it")
            CONVERTERS[name] = Registration(fn, cast_inputs, mask)
        return fn

    return deco


# the package whose modules hold the built-in converters, one per layer family
BUILTIN_CONVERTERS = "kerasport.keras.layers"

def load_builtin_converters() -> None:
    """Import the built-in converter modules (they register themselves). By name, as
    ops.registry loads the op families: the converter modules import this registry, never the
    other way round."""
    importlib.import_module(BUILTIN_CONVERTERS)


# modules of Keras 3 operations recorded in functional models (keras.ops calls, and the
# Operation classes of keras.activations such as ReLU and Mish)
OPERATION_MODULES = ("keras.src.ops", "keras.src.activations")


def is_operation(spec: LayerSpec) -> bool:
    """True for a recorded Keras 3 operation (converted by the ``ops.<Class>`` converter)."""
    module = spec.module
    return isinstance(module, str) and module.startswith(OPERATION_MODULES)


def find_converter(spec: LayerSpec) -> Registration | None:
    """The converter for a layer: by registered name first, then by class name."""
    load_builtin_converters()
    if is_operation(spec):
        return CONVERTERS.get(f"ops.{spec.class_name}")
    for key in (spec.registered_name, spec.class_name):
        if key and key in CONVERTERS:
            return CONVERTERS[key]
    return None


class LayerUnsupported(Exception):
    """Raised inside a converter for an option it cannot convert (collected by the walk)."""

    def __init__(self, issue: LayerIssue):
        super().__init__(str(issue))
        self.issue = issue


class LayerContext:
    """What a converter sees: the layer's config and weights, and a builder to add IR nodes."""

    def __init__(self, builder: Builder, spec: LayerSpec, scope: str, weights: Callable[[], Any],
                 keras_major: int, call: CallNode):
        self.builder = builder
        self.spec = spec
        self.scope = scope
        self.layer_name = spec.name
        self.class_name = spec.class_name
        self.kind = "operation" if is_operation(spec) else "layer"
        self.config = spec.config
        self.keras_major = keras_major
        self.call = call
        self._load_weights = weights
        self._weights: Any = None
        self.resolve: Callable[[Any], str] | None = None  # TensorRef -> value, set by the walk
        # Keras masks: per input, the value of its mask (float32 (N, T), 1 = keep) or None;
        # a converter that makes or changes masks sets output_masks (one entry per output).
        self.input_masks: list[str | None] = []
        self.output_masks: list[str | None] | None = None
        # the Keras mask carried on any value (None if it has none), and a way to clear it
        # (Keras 3's MultiHeadAttention strips its inputs' masks); set by the walk
        self.mask_of: Callable[[str], str | None] = lambda value: None
        self.drop_mask: Callable[[str], Any] = lambda value: None
        # files Keras stored for this layer in the archive's assets/ (a lookup layer's
        # vocabulary.txt), by file name; set by the walk
        self.assets: Callable[[], dict[str, bytes]] = dict
        # converts a model wrapped by this layer (ModelSpec, input values) -> output values
        self.run_wrapped_model: Callable[[Any, list[str]], list[str]] | None = None

    # -- config ---------------------------------------------------------------------------
    def require(self, ok: bool, key: str | None, reason: str, hint: str | None = None) -> None:
        """Stop converting this layer (reported with every other issue) unless ``ok``."""
        if not ok:
            raise LayerUnsupported(LayerIssue(self.layer_name, self.class_name, reason, key, hint,
                                              self.kind))

    def channels_last(self) -> None:
        """Require data_format channels_last."""
        fmt = self.config.get("data_format") or "channels_last"
        self.require(fmt == "channels_last", "data_format",
                     f"data_format='{fmt}' is not supported, only 'channels_last'",
                     "rebuild the model with data_format='channels_last' (the Keras default) "
                     "and load the trained weights into it")

    # -- weights --------------------------------------------------------------------------
    @property
    def weights(self) -> list[tuple[str | None, np.ndarray]]:
        """The layer's stored weights, in Keras' variable order."""
        if self._weights is None:
            self._weights = self._load_weights()
        return self._weights

    def weights_as(self, names: list[str],
                   shapes: list[tuple[int, ...] | None] | None = None) -> list[np.ndarray]:
        """The weights, checked against the expected names (count) and shapes, as float32."""
        found = self.weights
        if len(found) != len(names):
            raise WeightsError(
                f"layer '{self.layer_name}' ({self.class_name}) has {len(found)} stored weights, "
                f"its config needs {len(names)} ({', '.join(names)}); the weights do not fit "
                "the config")
        out = []
        for i, ((stored, arr), name) in enumerate(zip(found, names)):
            want = shapes[i] if shapes else None
            if want is not None and tuple(arr.shape) != tuple(want):
                raise WeightsError(
                    f"layer '{self.layer_name}' ({self.class_name}): weight '{stored or name}' "
                    f"has shape {tuple(arr.shape)}, the config needs {tuple(want)}")
            out.append(np.asarray(arr, dtype=np.float32))
        return out

    # -- graph building -------------------------------------------------------------------
    def const(self, suffix: str, array: np.ndarray) -> str:
        """Add a constant (weight) named after this layer."""
        return self.builder.const(f"{self.scope}/{suffix}", array)

    def op(self, op: str, inputs: list[str], suffix: str | None = None, n_out: int = 1,
           **attrs: Any) -> Any:
        """Add one node; returns the output value's name (a list of names for ``n_out`` > 1).
        Use "" for an absent optional input."""
        name = self.scope if suffix is None else f"{self.scope}/{suffix}"
        return self.builder.op(op, inputs, name, attrs, layer=self.scope, n_out=n_out)

    def shape(self, value: str):
        """The inferred shape of a value (None if unknown)."""
        return self.builder.values[value].shape

    def rank(self, value: str) -> int:
        """The rank of a value (fails the layer if it is unknown)."""
        shape = self.shape(value)
        if shape is None:
            raise LayerUnsupported(LayerIssue(self.layer_name, self.class_name,
                                              "input rank unknown", kind=self.kind))
        return len(shape)

    def activation_op(self, name: Any, key: str = "activation") -> tuple[str, dict] | None:
        """The IR op and attributes of a Keras activation name, from the one activation table
        (keras/activation_table.py); None for linear. An unknown name fails the layer."""
        ok = name is None or isinstance(name, str) and (name in ACTIVATIONS or name in LINEAR)
        self.require(ok, key, f"activation {name!r} is not supported",
                     "supported activations: " + ", ".join(supported_activations()))
        return activation_op(name, self.keras_major)

    def activation(self, x: str, name: Any, suffix: str = "act") -> str:
        """Apply a Keras activation function given by name (linear adds nothing)."""
        op = self.activation_op(name)
        if op is None:
            return x
        return self.op(op[0], [x], suffix, **op[1])
