"""Every way a Keras model is stored, read without TensorFlow: tf.keras SavedModel directories,
architecture JSON + weights (.h5, .weights.h5, .keras, TF checkpoint), an architecture .keras/.h5
with weights from another file, TF.js layers models.

Each model is built with the real framework (tf_keras = Keras 2, or Keras 3), every weight
randomised (BatchNorm statistics too), saved in every form once per module, then read by
kerasport (which never imports TensorFlow: the import-linter contract, and
test_reading_needs_no_tensorflow) and compared with Keras' own outputs. Tolerance:
keras_models.TOL = 1e-5 of the output scale.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import readers_forms as forms
import test_attention
import test_layers
import test_recurrent
import test_structures
from keras_models import (
    ERRORS,
    TOL,
    check_onnx,
    check_standalone,
    keras_module,
    keras_outputs,
    max_error,
    random_inputs,
)
from keras_models import randomize as randomize_weights

import kerasport
from kerasport.errors import InputError
from kerasport.model import as_list

CASES = {
    **{n: test_layers.CASES[n] for n in ("Dense", "Conv2D-same-stride2", "Conv1D-causal-dilated",
                                         "BatchNormalization", "PReLU")},
    **{n: test_recurrent.CASES[n] for n in ("LSTM-sequences", "GRU-reset-before",
                                            "Bidirectional-concat", "backward_layer",
                                            "masked-bidirectional", "sentiment",
                                            "time_distributed-functional")},
    **{n: test_structures.STRUCTURES[n] for n in ("sequential", "multi_io", "nested_sequential",
                                                  "nested_functional", "deeply_nested")},
    "MHA-self": test_attention.CASES["MHA-self"],
}


def _bidirectional_named_forward(k):
    """A Bidirectional whose own name holds "forward" (weights are split by path)."""
    inp = k.Input((5, 3))
    return k.Model(inp, k.layers.Bidirectional(k.layers.GRU(4), name="forward_pass")(inp))


CASES["Bidirectional-named-forward"] = _bidirectional_named_forward
INT_HIGH = {"masked-bidirectional": 4, "sentiment": 4}
# run by default (about a minute); the others with -m slow
QUICK = {"BatchNormalization", "Bidirectional-concat", "sentiment", "time_distributed-functional",
         "nested_functional", "MHA-self"}
CASE_PARAMS = [pytest.param(c, marks=[] if c in QUICK else [pytest.mark.slow]) for c in CASES]
_SAVED: dict[tuple[str, str], dict] = {}


def _saved(case: str, flavour: str, factory: pytest.TempPathFactory) -> dict:
    """Build ``case`` once per flavour, save every form; inputs and Keras' outputs."""
    key = (case, flavour)
    if key not in _SAVED:
        k = keras_module(flavour)
        model = CASES[case](k)
        base = factory.mktemp(f"{case}-{flavour}")
        arch = {name: forms.arch_file(model, base, kind) for name, (kind, _) in
                forms.ARCH_FIRST[flavour].items()}  # before randomising: wrong weights
        randomize_weights(model)
        inputs = random_inputs(model, int_high=INT_HIGH.get(case, 20))
        out = {"inputs": inputs, "want": keras_outputs(model, inputs), "model": model,
               "dir": base}
        for name, (_, wkind) in forms.ARCH_FIRST[flavour].items():
            d = base / name.replace("+", "_")
            d.mkdir()
            out[name] = (arch[name], forms.weights_file(model, d, wkind))
        _SAVED[key] = out
    return _SAVED[key]


def _form(saved: dict, form: str, flavour: str) -> tuple[str, str | None]:
    if form not in saved:
        table = forms.K2_FORMS if flavour == "k2" else forms.K3_FORMS
        d = saved["dir"] / form.replace("+", "_")
        d.mkdir()
        if form == "savedmodel-tf2.4":
            saved[form] = forms.as_tf24_savedmodel(_form(saved, "savedmodel", flavour)[0], d)
        else:
            saved[form] = table[form](saved["model"], d)
    return saved[form]


def _check(case: str, flavour: str, form: str, factory: pytest.TempPathFactory) -> None:
    saved = _saved(case, flavour, factory)
    try:
        path, weights = _form(saved, form, flavour)
    except (ValueError, NotImplementedError, TypeError) as exc:
        pytest.skip(f"{flavour} cannot save {case} as {form}: {str(exc)[:200]}")
    m = kerasport.load(path, weights=weights)
    inputs = saved["inputs"]
    got = as_list(m.predict(inputs if len(inputs) > 1 else inputs[0]))
    err = max_error(got, saved["want"])
    ERRORS.append((os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], err))
    assert err <= TOL, f"max error {err:.3g} > {TOL:.3g} ({flavour} {form})"


K2_ALL = [*forms.K2_FORMS, "savedmodel-tf2.4", *forms.ARCH_FIRST["k2"]]
K3_ALL = [*forms.K3_FORMS, *forms.ARCH_FIRST["k3"]]


@pytest.mark.parametrize("form", K2_ALL)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_keras2_forms(case, form, tmp_path_factory):
    _check(case, "k2", form, tmp_path_factory)


@pytest.mark.parametrize("form", K3_ALL)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_keras3_forms(case, form, tmp_path_factory):
    _check(case, "k3", form, tmp_path_factory)


def test_reading_needs_no_tensorflow(tmp_path_factory, tmp_path):
    """A SavedModel, a JSON + checkpoint and a TF.js model read in a process where TensorFlow,
    Keras and tf_keras cannot be imported, with the same outputs."""
    import subprocess
    import sys

    import numpy as np

    saved = _saved("Bidirectional-concat", "k2", tmp_path_factory)
    sources = [_form(saved, f, "k2") for f in ("savedmodel", "json+ckpt", "tfjs")]
    np.save(tmp_path / "x.npy", saved["inputs"][0])
    script = ("import sys, json, numpy as np\n"
              "for m in ('tensorflow', 'keras', 'tf_keras', 'torch'): sys.modules[m] = None\n"
              "import kerasport\n"
              f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
              f"for i, (p, w) in enumerate({sources!r}):\n"
              f"    np.save({str(tmp_path)!r} + f'/y{{i}}.npy', "
              "kerasport.load(p, weights=w).predict(x))\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(Path(kerasport.__file__).parents[1])})
    for i in range(len(sources)):
        err = max_error([np.load(tmp_path / f"y{i}.npy")], saved["want"])
        assert err <= TOL, (sources[i], err)


@pytest.mark.parametrize("form", ["savedmodel", "json+ckpt", "tfjs"])
def test_every_target(form, tmp_path_factory, tmp_path):
    """Bundle (verified), standalone Python (numpy only) and ONNX (ONNX Runtime) from a model
    read in each TF-only form; TFLite through kerasport's own writer (checked in LiteRT by the
    conversion, within 1e-4), while TensorFlow's converter, which needs the original .keras/.h5
    file, is refused before anything is written."""
    saved = _saved("nested_functional", "k2", tmp_path_factory)
    path, weights = _form(saved, form, "k2")
    m = kerasport.load(path, weights=weights)
    inputs, want = saved["inputs"], saved["want"]
    got = as_list(m.predict(inputs if len(inputs) > 1 else inputs[0]))
    assert max_error(got, want) <= TOL
    bundle = kerasport.convert(path, str(tmp_path / "m.npz"), weights_file=weights)
    assert bundle.error is not None and bundle.error <= 1e-6
    again = as_list(kerasport.load(bundle.output).predict(inputs if len(inputs) > 1 else inputs[0]))
    assert max_error(again, want) <= TOL
    check_standalone(m, inputs, got, tmp_path)
    check_onnx(m, inputs, got)
    if importlib.util.find_spec("ai_edge_litert") is not None:
        lite = kerasport.convert(path, str(tmp_path / "m.tflite"), to="tflite",
                                 weights_file=weights)
        assert lite.error is not None and lite.error <= 1e-4
    with pytest.raises(InputError, match="converter tensorflow"):
        kerasport.convert(path, str(tmp_path / "tf.tflite"), to="tflite", weights_file=weights,
                          converter="tensorflow")
    assert not (tmp_path / "tf.tflite").exists()


ZOO = {
    "MobileNetV3Small": lambda k: k.applications.MobileNetV3Small(
        input_shape=(48, 48, 3), weights=None, classes=5, classifier_activation=None),
    "MobileNet": lambda k: k.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=5,
        classifier_activation=None),
}


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "form"), [
    ("MobileNetV3Small", "savedmodel"), ("MobileNetV3Small", "json+ckpt"),
    # tensorflowjs' converter drops the weights of layers whose names hold "/" (MobileNetV3's
    # "Conv/BatchNorm"), so its TF.js form is checked on MobileNet
    ("MobileNet", "tfjs"), ("MobileNet", "savedmodel-tf2.4")])
def test_zoo_forms(arch, form, tmp_path_factory):
    """Small keras.applications models (tf_keras) in the TF-only forms."""
    CASES.setdefault(f"zoo-{arch}", ZOO[arch])
    _check(f"zoo-{arch}", "k2", form, tmp_path_factory)
