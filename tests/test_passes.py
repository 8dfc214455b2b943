"""Graph passes: outputs before == outputs after (1e-6 of the output scale), and each pass does
what it says."""

from __future__ import annotations

import numpy as np
import pytest
from keras_models import keras_module, max_error, random_inputs, randomize, save

import kerasport
from kerasport.ir.passes import fold_affine
from kerasport.model import Model, as_list


def conv_bn(k):
    inp = k.Input((8, 8, 3))
    x = k.layers.BatchNormalization()(k.layers.Conv2D(4, 3, padding="same")(inp))
    x = k.layers.BatchNormalization()(k.layers.DepthwiseConv2D(3, depth_multiplier=2)(x))
    x = k.layers.BatchNormalization()(k.layers.Conv2D(6, 1, use_bias=False)(x))
    x = k.layers.Flatten()(x)
    return k.Model(inp, k.layers.BatchNormalization()(k.layers.Dense(5)(x)))


def not_foldable(k):
    inp = k.Input((6, 6, 3))
    c = k.layers.Conv2D(4, 3)(inp)
    a = k.layers.BatchNormalization()(c)  # c is used twice: no fold
    b = k.layers.BatchNormalization(axis=1)(k.layers.Conv2D(4, 3)(inp))  # not per channel
    act = k.layers.BatchNormalization()(k.layers.Conv2D(4, 3, activation="relu")(inp))
    return k.Model(inp, [k.layers.Add()([a, c]), b, act])


@pytest.mark.parametrize(("build", "folds"), [(conv_bn, 4), (not_foldable, 0)],
                         ids=["conv_bn", "not_foldable"])
def test_fold_affine(build, folds, tmp_path):
    model = build(keras_module("k3"))
    randomize(model)
    path = save(model, tmp_path / "m.keras")
    raw = kerasport.load(path, optimize_graph=False)
    folded = Model(fold_affine(raw.graph))
    assert len(raw.graph.nodes) - len(folded.graph.nodes) == folds
    assert sum(n.op == "Affine" for n in folded.graph.nodes) == sum(
        n.op == "Affine" for n in raw.graph.nodes) - folds
    inputs = random_inputs(model)
    before = as_list(raw.predict(inputs[0]))
    after = as_list(folded.predict(inputs[0]))
    assert max_error(after, before) <= 1e-6
    assert max_error(after, [np.asarray(t) for t in as_list(model(inputs[0]))]) <= 1e-5
    assert set(folded.graph.outputs) == set(raw.graph.outputs)
