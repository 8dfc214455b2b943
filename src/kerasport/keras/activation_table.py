"""Keras activation names -> IR activation specs: the one table that plain layers
(``activation=``, Activation) and recurrent cells share.

A spec is ``{"op": <IR op>, **attributes}`` (None for linear). The reader resolves Keras'
version-dependent meanings here (hard_sigmoid is clip(0.2 x + 0.5) in Keras 2, relu6(x + 3) / 6
in Keras 3), so the IR carries explicit attributes and no Keras names or versions.
"""

from __future__ import annotations

from typing import Any

# name -> (IR op, attributes, usable in recurrent cells)
ACTIVATIONS: dict[str, tuple[str, dict[str, Any], bool]] = {
    "relu": ("Relu", {}, True),
    "relu6": ("Relu", {"max_value": 6.0}, False),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.2}, False),
    "elu": ("Elu", {"alpha": 1.0}, True),
    "selu": ("Selu", {}, True),
    "gelu": ("Gelu", {"approximate": False}, True),
    "approximate_gelu": ("Gelu", {"approximate": True}, False),
    "sigmoid": ("Sigmoid", {}, True),
    "hard_sigmoid": ("HardSigmoid", {"slope": 1.0 / 6.0, "offset": 0.5}, True),
    "silu": ("Silu", {}, True),
    "swish": ("Silu", {}, True),
    "hard_silu": ("HardSilu", {}, True),
    "hard_swish": ("HardSilu", {}, True),
    "mish": ("Mish", {}, False),
    "softplus": ("Softplus", {}, True),
    "softsign": ("Softsign", {}, True),
    "tanh": ("Tanh", {}, True),
    "exponential": ("Exp", {}, False),
    "softmax": ("Softmax", {"axis": -1}, False),
    "log_softmax": ("LogSoftmax", {"axis": -1}, False),
    "glu": ("Glu", {"axis": -1}, False),  # halves the last axis: not for recurrent cells
    # Keras 3's newer activations, with Keras' defaults
    "celu": ("Celu", {"alpha": 1.0}, True),
    "hard_tanh": ("HardTanh", {}, True),
    "log_sigmoid": ("LogSigmoid", {}, True),
    "sparse_plus": ("SparsePlus", {}, True),
    "sparse_sigmoid": ("SparseSigmoid", {}, True),
    "squareplus": ("Squareplus", {"b": 4.0}, True),
    "tanh_shrink": ("TanhShrink", {}, True),
    "hard_shrink": ("HardShrink", {"threshold": 0.5}, True),
    "soft_shrink": ("SoftShrink", {"threshold": 0.5}, True),
}
LINEAR = ("linear", "identity")
# what an older Keras meant by a name, where it differs: major version -> name -> attributes
_BEFORE_KERAS3 = {"hard_sigmoid": {"slope": 0.2}}
NEWER_ACTIVATIONS = ("celu", "hard_tanh", "log_sigmoid", "sparse_plus", "sparse_sigmoid",
                     "squareplus", "tanh_shrink", "hard_shrink", "soft_shrink")


def activation_op(name: str, keras_major: int = 3) -> tuple[str, dict[str, Any]] | None:
    """(IR op, attributes) of Keras activation ``name`` as Keras ``keras_major`` defines it;
    None for linear. Raises KeyError for a name not in the table."""
    if name is None or name in LINEAR:
        return None
    op, attrs, _ = ACTIVATIONS[name]
    attrs = dict(attrs)
    if keras_major < 3:
        attrs.update(_BEFORE_KERAS3.get(name, {}))
    return op, attrs


def activation_spec(name: str | None, keras_major: int = 3) -> dict[str, Any] | None:
    """The IR spec ``{"op": ..., **attrs}`` of ``name`` (None for linear)."""
    found = activation_op(name, keras_major)  # type: ignore[arg-type]
    return None if found is None else {"op": found[0], **found[1]}


def supported_activations() -> list[str]:
    """Every Keras activation name that converts."""
    return sorted([*ACTIVATIONS, "linear"])


def recurrent_activations() -> list[str]:
    """The names recurrent cells accept (their kernels and targets implement them)."""
    return sorted([*(n for n, (_, _, rnn) in ACTIVATIONS.items() if rnn), "linear"])


def upgrade_recurrent_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes of a recurrent node from a version-1 bundle (Keras activation names and
    ``keras_major``) in today's form (activation specs). Raises ValueError for a name that
    is not an activation recurrent cells accept."""
    out = dict(attrs)
    major = out.pop("keras_major", 3)
    if not isinstance(major, int) or isinstance(major, bool):
        raise ValueError(f"keras_major {str(major)[:20]} is not an integer")
    for key in ("activation", "recurrent_activation"):
        if key in out:  # an absent key keeps the kernel's default (tanh, sigmoid), as before
            name = out[key]
            if not (name is None or name in recurrent_activations()):
                raise ValueError(f"{key} {str(name)[:50]!r} is not a recurrent activation")
            out[key] = activation_spec(name, major)
    return out
