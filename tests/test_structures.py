"""Model structures: Sequential, branches, several inputs/outputs, nested models (also inside a
Sequential), shared layers, free dims. Parity with Keras in all four formats (TOL = 1e-5)."""

from __future__ import annotations

import pytest
from keras_models import FORMAT_IDS, FORMATS, check_parity


def sequential(k):
    return k.Sequential([
        k.Input((8, 8, 2)),
        k.layers.Conv2D(4, 3, activation="relu"),
        k.layers.BatchNormalization(),
        k.layers.MaxPooling2D(),
        k.layers.Flatten(),
        k.layers.Dropout(0.2),
        k.layers.Dense(3, activation="softmax"),
    ])


def sequential_input_shape_kwarg(k):
    if k.__name__ == "keras":
        pytest.skip("Keras 3 has no input_shape argument on layers")
    return k.Sequential([k.layers.Dense(5, activation="tanh", input_shape=(4,)),
                         k.layers.Dense(2)])


def branches(k):
    inp = k.Input((6, 6, 3))
    a = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = k.layers.Conv2D(4, 1)(inp)
    x = k.layers.Add()([a, b])
    c = k.layers.MaxPooling2D()(x)
    d = k.layers.AveragePooling2D(2)(x)
    x = k.layers.Concatenate()([c, d])
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(2)(x))


def multi_io(k):
    a = k.Input((5,), name="a")
    b = k.Input((7,), name="b")
    x = k.layers.Concatenate()([k.layers.Dense(4)(a), k.layers.Dense(4)(b)])
    y1 = k.layers.Dense(3, activation="softmax", name="probs")(x)
    y2 = k.layers.Dense(1, name="score")(x)
    return k.Model([a, b], [y1, y2])


def nested_sequential(k):
    inner = k.Sequential([k.Input((6,)), k.layers.Dense(5, activation="relu"),
                          k.layers.BatchNormalization(), k.layers.Dense(4)], name="inner")
    inp = k.Input((6,))
    x = inner(inp)
    return k.Model(inp, k.layers.Dense(2)(x))


def nested_functional(k):
    i = k.Input((4, 3))
    h = k.layers.Conv1D(5, 2, padding="causal")(i)
    inner = k.Model(i, k.layers.GlobalMaxPooling1D()(h), name="feat")
    a = k.Input((4, 3))
    b = k.Input((4, 3))
    x = k.layers.Subtract()([inner(a), inner(b)])  # a nested model shared by two inputs
    return k.Model([a, b], k.layers.Dense(1)(x))


def nested_in_sequential(k):
    i = k.Input((6,))
    inner = k.Model(i, k.layers.Dense(3, activation="tanh")(i), name="block")
    inner2 = k.Sequential([k.Input((3,)), k.layers.Dense(3)], name="block2")
    return k.Sequential([k.Input((6,)), inner, inner2, k.layers.Dense(2)])


def deeply_nested(k):
    i = k.Input((4,))
    level1 = k.Model(i, k.layers.Dense(4, activation="relu")(i), name="level1")
    j = k.Input((4,))
    level2 = k.Model(j, k.layers.Dense(3)(level1(j)), name="level2")
    x = k.Input((4,))
    return k.Model(x, level2(x))


def shared_layers(k):
    a = k.Input((5,))
    b = k.Input((5,))
    shared = k.layers.Dense(4, activation="relu", name="shared")
    bn = k.layers.BatchNormalization(name="shared_bn")
    x = k.layers.Concatenate()([bn(shared(a)), bn(shared(b)), shared(a)])
    return k.Model([a, b], x)


def free_dims(k):
    inp = k.Input((None, None, 3))
    x = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = k.layers.MaxPooling2D(padding="same")(x)
    x = k.layers.GlobalMaxPooling2D()(x)
    return k.Model(inp, k.layers.Dense(2)(x))


def free_sequence(k):
    inp = k.Input((None, 4))
    x = k.layers.Dense(8, activation="gelu")(inp)
    x = k.layers.Conv1D(3, 3, padding="causal")(x)
    return k.Model(inp, [x, k.layers.GlobalAveragePooling1D()(x)])


def output_is_input_branch(k):
    inp = k.Input((5,))
    x = k.layers.Dropout(0.5)(inp)
    return k.Model(inp, [x, k.layers.Dense(2)(x)])


STRUCTURES = {f.__name__: f for f in (
    sequential, sequential_input_shape_kwarg, branches, multi_io, nested_sequential,
    nested_functional, nested_in_sequential, deeply_nested, shared_layers, free_dims,
    free_sequence, output_is_input_branch)}


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_structure_parity(structure, flavour, ext, tmp_path):
    check_parity(STRUCTURES[structure], flavour, ext, tmp_path)


@pytest.mark.parametrize(("flavour", "ext"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("batch", [1, 2, 7, 33, 70])
def test_batch_sizes(batch, flavour, ext, tmp_path):
    check_parity(branches, flavour, ext, tmp_path, batch=batch)
