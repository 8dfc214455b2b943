"""Standalone Python export and smaller weights (float16, int8).

Every parity test also runs its model's generated code with numpy alone (keras_models.
check_standalone); here: lint/compile of the generated file, batch semantics, refusal of a
single example, and the size/error of float16 and int8 weights on the example model and on a
ResNet50-sized model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from keras_models import keras_module, randomize, save
from standalone import run_standalone

import kerasport
from kerasport.cli import main
from kerasport.export.python import export_python

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def digits():
    x = np.load(EXAMPLES / "digits_test_x.npy")
    y = np.load(EXAMPLES / "digits_test_y.npy")
    return kerasport.load(EXAMPLES / "digits_cnn.keras"), x, y


def test_generated_code_is_clean(digits, tmp_path):
    model, _, _ = digits
    py_path, w_path = export_python(model, str(tmp_path))
    source = Path(py_path).read_text()
    imports = re.findall(r"^\s*(?:import|from)\s+(\w+)", source, re.M)
    assert set(imports) == {"os", "numpy"}, imports
    for fn in ("predict", "load_weights", "self_check"):
        assert f"def {fn}(" in source
    # only the kernels this model uses
    assert "def Conv(" in source and "def ConvTranspose(" not in source
    # one line per op, named after the Keras layers
    assert "bn1 = Conv(" in source and "probs = Softmax(" in source  # BN folded into conv1
    subprocess.run([sys.executable, "-m", "py_compile", py_path], check=True)
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", py_path],
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    with np.load(w_path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


@pytest.mark.parametrize("batch", [1, 2, 17, 64])
def test_batch_semantics(digits, batch, tmp_path):
    model, x, _ = digits
    py_path, _ = export_python(model, str(tmp_path))
    outs, info = run_standalone(Path(py_path), [x[:batch]], tmp_path)
    assert outs[0].shape == (batch, 10)
    np.testing.assert_allclose(outs[0], model.predict(x[:batch]), rtol=0, atol=1e-6)
    assert info["leaked"] == []


def test_single_example_is_refused(digits, tmp_path):
    model, x, _ = digits
    py_path, _ = export_python(model, str(tmp_path), name="digits")
    sys.path.insert(0, str(tmp_path))
    try:
        import digits as generated  # noqa: PLC0415

        with pytest.raises(ValueError, match="add the batch axis"):
            generated.predict(x[0])
        with pytest.raises(ValueError, match="not numeric"):
            generated.predict(np.array([["a"]]))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("digits", None)


@pytest.mark.parametrize("mode", ["float16", "int8"])
def test_smaller_weights_on_the_example(digits, mode, tmp_path):
    """float16 about half the size, int8 about a quarter; digits accuracy within 1 point."""
    model, x, y = digits
    full = tmp_path / "f32.npz"
    small = tmp_path / f"{mode}.npz"
    model.save(str(full))
    model.save(str(small), weights=mode)
    ratio = os.path.getsize(small) / os.path.getsize(full)
    assert ratio < (0.6 if mode == "float16" else 0.35), ratio
    base_acc = np.mean(model.predict(x).argmax(1) == y)
    reloaded = kerasport.load(small)
    acc = np.mean(reloaded.predict(x).argmax(1) == y)
    assert abs(acc - base_acc) <= 0.01, (acc, base_acc)
    assert reloaded.verify() == 0.0  # the bundle reproduces what its stored weights compute
    err = reloaded.meta["weights_error_vs_float32"]
    assert 0 < err < (1e-2 if mode == "float16" else 5e-2), err
    # standalone code with the same storage gives the same outputs
    py_path, w_path = export_python(model, str(tmp_path / "sa"), weights=mode)
    outs, info = run_standalone(Path(py_path), [x[:8]], tmp_path)
    np.testing.assert_allclose(outs[0], reloaded.predict(x[:8]), rtol=0, atol=1e-6)


@pytest.mark.slow
def test_smaller_weights_resnet50(tmp_path):
    k = keras_module("k3")
    model = k.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=1000)
    randomize(model)
    path = save(model, tmp_path / "resnet50.keras")
    m = kerasport.load(path)
    sizes = {}
    for mode in ("float32", "float16", "int8"):
        out = tmp_path / f"{mode}.npz"
        m.save(str(out), weights=mode)
        sizes[mode] = os.path.getsize(out)
    assert sizes["float16"] / sizes["float32"] < 0.55
    assert sizes["int8"] / sizes["float32"] < 0.30


def test_cli_to_python(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["convert", str(EXAMPLES / "digits_cnn.keras"), "--to", "python", "-o",
                 str(out), "--weights", "int8"]) == 0
    assert (out / "digits_cnn.py").exists() and (out / "digits_cnn_weights.npz").exists()
    proc = subprocess.run([sys.executable, str(out / "digits_cnn.py")], capture_output=True,
                          text=True)
    # the same kernels: equal up to BLAS summation order, which may differ between processes
    # (thread counts another test or library set in the environment)
    found = re.search(r"self_check: max relative error (\S+)", proc.stdout)
    assert proc.returncode == 0 and found and float(found.group(1)) <= 1e-6, proc.stdout
