"""Every built-in layer converter declares what it does with a Keras mask (no TensorFlow)."""

from __future__ import annotations

import pytest

from kerasport.errors import KerasportError
from kerasport.keras.registry import (
    CONVERTERS,
    MASK_RULES,
    load_builtin_converters,
    register_converter,
)

load_builtin_converters()
BUILTIN = sorted(name for name, reg in CONVERTERS.items()
                 if reg.fn.__module__.startswith("kerasport."))


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_converter_declares_its_mask_rule(name):
    assert CONVERTERS[name].mask in MASK_RULES, (
        f"register_converter({name!r}, mask=...) must say what the layer does with a mask")


@pytest.mark.parametrize("name, rule", [
    ("Dense", "pass"), ("Dropout", "pass"), ("Activation", "pass"), ("TimeDistributed", "pass"),
    ("LayerNormalization", "pass"), ("Add", "merge"), ("Concatenate", "merge"),
    ("Embedding", "own"), ("LSTM", "own"), ("Masking", "own"), ("Flatten", "drop"),
    ("GlobalAveragePooling1D", "drop"),
])
def test_known_keras_mask_behaviour(name, rule):
    assert CONVERTERS[name].mask == rule


def test_unknown_mask_rule_is_refused():
    with pytest.raises(KerasportError, match="mask="):
        register_converter("NoSuchLayerForTest", mask="keep")
