"""Files Keras refuses but kerasport repairs, with a warning: a .keras archive written by tf_keras
on Windows, whose weight paths hold backslashes (keras-team/keras#18528). The file is made by
tf_keras' own saving code with Windows' path join (ntpath.join standing in for os.path.join
on Windows). Tolerance: keras_models.TOL (1e-5 of the output scale)."""

from __future__ import annotations

import io
import ntpath
import warnings
import zipfile

import h5py
import pytest
from keras_models import TOL, keras_module, keras_outputs, max_error, random_inputs, randomize

import kerasport
from kerasport.keras.repair import RepairWarning


def _model(k):
    inner = k.Sequential([k.Input((6,)), k.layers.Dense(5, activation="relu"),
                          k.layers.BatchNormalization()], name="inner")
    inp = k.Input((4, 6))
    x = k.layers.LSTM(6)(inp)
    return k.Model(inp, k.layers.Dense(3)(inner(x)))


def _save_as_on_windows(model, path, monkeypatch) -> None:
    saving_lib = pytest.importorskip("tf_keras.src.saving.saving_lib")
    with monkeypatch.context() as m:
        m.setattr(saving_lib.tf.io.gfile, "join", ntpath.join)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(str(path))


def test_backslash_weight_paths(tmp_path, monkeypatch):
    k = keras_module("k2")
    model = _model(k)
    randomize(model)
    inputs = random_inputs(model)
    want = keras_outputs(model, inputs)
    path = tmp_path / "windows.keras"
    _save_as_on_windows(model, path, monkeypatch)
    with zipfile.ZipFile(path) as zf:
        h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
        assert any("\\" in name for name in h5), "the file does not show the Windows bug"
        h5.close()
    with pytest.warns(RepairWarning, match="backslashes"):
        m = kerasport.load(path)
    err = max_error([m.predict(inputs[0])], want)
    assert err <= TOL


def test_backslash_weights_file_with_json(tmp_path, monkeypatch):
    """The same bug in a separate .keras used as the weights of a to_json() architecture."""
    k = keras_module("k2")
    model = _model(k)
    randomize(model)
    inputs = random_inputs(model)
    (tmp_path / "model.json").write_text(model.to_json())
    _save_as_on_windows(model, tmp_path / "w.keras", monkeypatch)
    with pytest.warns(RepairWarning):
        m = kerasport.load(tmp_path / "model.json", weights=tmp_path / "w.keras")
    assert max_error([m.predict(inputs[0])], keras_outputs(model, inputs)) <= TOL


def test_clean_file_is_not_repaired(tmp_path):
    k = keras_module("k2")
    model = _model(k)
    randomize(model)
    model.save(str(tmp_path / "m.keras"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepairWarning)
        kerasport.load(tmp_path / "m.keras")
