"""The kerasport command: inspect, convert, predict, verify (in-process and as a console
script)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from keras_models import keras_module, max_error, randomize, save

from kerasport.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module", params=[("k3", "keras"), ("k3", "h5"), ("k2", "keras"),
                                        ("k2", "h5")], ids=lambda p: f"{p[0]}-{p[1]}")
def two_io(request, tmp_path_factory):
    flavour, ext = request.param
    k = keras_module(flavour)
    a, b = k.Input((6, 6, 2), name="pixels"), k.Input((3,), name="extra")
    x = k.layers.Conv2D(4, 3, name="conv")(a)
    x = k.layers.BatchNormalization(name="bn")(x)
    x = k.layers.Flatten(name="flat")(x)
    inner = k.Sequential([k.Input((3,)), k.layers.Dense(5, name="inner_dense")], name="inner")
    x = k.layers.Concatenate(name="cat")([x, inner(b)])
    model = k.Model([a, b], [k.layers.Dense(2, name="out1")(x), k.layers.Dense(1, name="out2")(x)])
    randomize(model)
    path = save(model, tmp_path_factory.mktemp("cli") / f"m.{ext}")
    return path, model


def test_inspect_table(two_io, capsys):
    path, model = two_io
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    rows = {}
    for line in out.splitlines()[2:]:
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) == 5:
            rows[parts[0].split("/")[-1]] = parts
    for layer in model.layers:
        assert layer.name in rows, layer.name
        assert int(rows[layer.name][3].replace(",", "")) == layer.count_params(), layer.name
        assert rows[layer.name][4] == "yes"
    assert rows["conv"][2] == "(None, 4, 4, 4)" and rows["inner_dense"][1] == "Dense"
    assert "every layer is supported" in out


def test_convert_predict_verify(two_io, tmp_path, capsys):
    path, model = two_io
    bundle = tmp_path / "m.npz"
    assert main(["convert", str(path), "-o", str(bundle)]) == 0
    assert "wrote" in capsys.readouterr().out and bundle.exists()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 6, 6, 2)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    np.savez(tmp_path / "x.npz", pixels=a, extra=b)
    want = [np.asarray(t) for t in model([a, b])]
    for source in (bundle, path):
        out = tmp_path / "y.npz"
        assert main(["predict", str(source), "--input", str(tmp_path / "x.npz"), "-o", str(out),
                     "--batch-size", "2"]) == 0
        with np.load(out) as data:
            got = [data["out1"], data["out2"]]
        assert max_error(got, want) <= 1e-5
    assert main(["verify", str(bundle)]) == 0
    assert "OK" in capsys.readouterr().out


def test_predict_npy_and_print(tmp_path, capsys):
    x = np.load(EXAMPLES / "digits_test_x.npy")[:3]
    np.save(tmp_path / "x.npy", x)
    assert main(["predict", str(EXAMPLES / "digits_cnn.keras"), "-i", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (3, 10)
    assert main(["predict", str(EXAMPLES / "digits_cnn.keras"), "-i",
                 str(tmp_path / "x.npy")]) == 0
    assert "probs: shape (3, 10)" in capsys.readouterr().out


def test_convert_refuses_to_overwrite_input(tmp_path, capsys):
    src = tmp_path / "m.npz"
    src.write_bytes((EXAMPLES / "digits_cnn.keras").read_bytes())
    assert main(["convert", str(src), "-o", str(src)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_console_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kerasport", "convert",
                           str(EXAMPLES / "digits_cnn.keras"), "-o", str(tmp_path / "d.npz")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "kerasport", "verify", str(tmp_path / "d.npz")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "OK" in proc.stdout
