from __future__ import annotations

import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity


def build(k):
    inp = k.Input((8, 8, 3))
    x = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.MaxPooling2D()(x)
    x = k.layers.Flatten()(x)
    return k.Model(inp, k.layers.Dense(3, activation="softmax")(x))


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
def test_smoke(flavour, ext, tmp_path):
    check_parity(build, flavour, ext, tmp_path)
