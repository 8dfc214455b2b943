"""``--to pytorch``: Keras -> IR -> generated nn.Module -> torch matches the original Keras output.

Every parity model of the suite (foundation layers, structures, vision layers, designs,
recurrent, masked, attention) and a zoo subset, Keras 3 .keras files. Tolerance: TORCH_TOL
(1e-5 of the output scale, float32) vs Keras, as the other parity tests. A representative sample
runs by default; the rest is marked slow. Models whose ops have no PyTorch form must be refused
with the op and layer named. Op level: each IR op's example (tests/unit/op_cases.py) as a
one-node module vs its NumPy kernel.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import test_attention
import test_designs
import test_layers
import test_recurrent
import test_structures
import test_vision_layers
from keras_models import (
    ERRORS,
    keras_module,
    keras_outputs,
    max_error,
    random_inputs,
    randomize,
    save,
)

import kerasport
from kerasport.errors import KerasportError, UnsupportedLayerError
from kerasport.export.pytorch import emitted_ops, export_pytorch

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parent / "unit"))
from op_cases import all_cases  # noqa: E402

TORCH_TOL = 1e-5

FAMILIES = {
    "layers": (test_layers.CASES, lambda case: 5),
    "structures": (test_structures.STRUCTURES, lambda case: 5),
    "vision": (test_vision_layers.CASES, lambda case: 5),
    "designs": (test_designs.DESIGNS, lambda case: 5),
    "recurrent": (test_recurrent.CASES,
                  lambda case: 4 if "mask" in case or case == "sentiment" else 20),
    "cells": (test_recurrent.CELL_CASES, lambda case: 5),
    "attention": (test_attention.CASES,
                  lambda case: 20 if "only" in case or "classifier" in case else 5),
}
# run by default (about two minutes with the zoo model below); everything else is slow
SAMPLE = {
    "layers": {"Dense-act-gelu", "Conv1D-causal-dilated", "Conv2D-same-stride-asym",
               "Conv2D-groups", "AveragePooling2D-same", "MaxPooling2D-same",
               "BatchNormalization", "PReLU-shared", "Softmax-axes", "ReLU-all",
               "ZeroPadding2D-asym", "Cropping2D", "GlobalAveragePooling2D-keepdims",
               "Concatenate-axis1", "Permute", "Activation-hard_sigmoid"},
    "structures": {"multi_io", "shared_layers", "free_dims"},
    "vision": {"Conv2DTranspose-s2-same", "Conv2DTranspose-outpad", "SeparableConv2D",
               "DepthwiseConv2D-same-s2", "GroupNormalization", "LayerNormalization-axes",
               "Resizing-bilinear", "Resizing-nearest", "UpSampling2D", "Conv3D-same-s2",
               "UnitNormalization"},
    "designs": {"unet", "signal1d"},
    "recurrent": {"LSTM-backwards", "GRU-reset-before", "Bidirectional-concat",
                  "masked-LSTM", "masked-bidirectional", "sentiment", "GRU-initial-state-input",
                  "time_distributed_conv"},
    "cells": {"stacked-masked", "RNN-GRUCell", "ConvLSTM2D-same-backwards"},
    "attention": {"MHA-causal", "MHA-masked", "GQA-gate-window", "AdditiveAttention-masked",
                  "transformer_classifier", "EinsumDense-heads"},
}


def _params() -> list:
    out = []
    for family, (cases, _) in FAMILIES.items():
        for case in sorted(cases, key=str):
            marks = () if case in SAMPLE[family] else (pytest.mark.slow,)
            out.append(pytest.param(family, case, marks=marks, id=f"{family}-{case}"))
    return out


def load_generated(py_path: str):
    """The generated module, imported from its file."""
    spec = importlib.util.spec_from_file_location(f"gen_{abs(hash(py_path))}", py_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_torch(net, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The module's outputs as NumPy arrays."""
    with torch.no_grad():
        out = net(*[torch.from_numpy(a) for a in inputs])
    return [o.numpy() for o in ([out] if isinstance(out, torch.Tensor) else out)]


def assert_ruff_clean(py_path: str) -> None:
    """The generated file passes ruff with the project's rules (line length 100)."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
                           "--line-length", "100", "--select", "E,F,W,I,UP,B", py_path],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def torch_parity(model, tmp_path: Path, int_high: int = 5) -> float | None:
    """Save the randomised Keras ``model``, write it as PyTorch code, run it in torch and
    compare with Keras; None when it was (rightly) refused."""
    randomize(model)
    inputs = random_inputs(model, int_high=int_high)
    want = keras_outputs(model, inputs)
    m = kerasport.load(save(model, tmp_path / "model.keras"), optimize_graph=False)
    missing = {n.op for n in m.graph.nodes} - set(emitted_ops())
    out = tmp_path / "torch"
    if missing:  # refused before anything is written, naming the op and the layer
        with pytest.raises(UnsupportedLayerError, match=sorted(missing)[0]):
            export_pytorch(m, str(out))
        assert not out.exists()
        return None
    py_path, _ = export_pytorch(m, str(out))
    assert_ruff_clean(py_path)
    net = load_generated(py_path).load_model()
    err = max_error(run_torch(net, inputs), want)
    ERRORS.append((os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], err))
    assert err <= TORCH_TOL, f"torch output differs from Keras by {err:.3g}"
    return err


@pytest.mark.parametrize(("family", "case"), _params())
def test_parity_model_in_torch(family, case, tmp_path):
    cases, int_high = FAMILIES[family]
    model = cases[case](keras_module("k3"))
    torch_parity(model, tmp_path, int_high(case))


ZOO = [pytest.param("MobileNetV2"),
       *(pytest.param(n, marks=pytest.mark.slow)
         for n in ("ResNet50", "EfficientNetB0", "MobileNetV3Small", "ConvNeXtTiny",
                   "DenseNet121", "NASNetMobile"))]


@pytest.mark.parametrize("name", ZOO)
def test_zoo_in_torch(name, tmp_path):
    k = keras_module("k3")
    model = getattr(k.applications, name)(weights=None, input_shape=(32, 32, 3), classes=10,
                                          classifier_activation=None)
    assert torch_parity(model, tmp_path) is not None


# ---- op level: each op's example as a one-node module vs its NumPy kernel -------------------
OP_CASES = [c for c in all_cases() if c.op in set(emitted_ops())]


@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: f"{c.op}-{c.id}" if c.id else c.op)
def test_op_case_in_torch(case, tmp_path):
    from test_ops_conformance import _graph

    from kerasport.runtime.executor import Executor

    graph, feeds = _graph(case)
    want = Executor(graph).run(feeds)
    py_path, _ = export_pytorch(graph, str(tmp_path))
    assert_ruff_clean(py_path)
    got = run_torch(load_generated(py_path).load_model(), feeds)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=case.rtol, atol=case.atol)


# ---- TorchScript ---------------------------------------------------------------------------
def _cnn(k):
    inp = k.Input((12, 12, 3))
    x = k.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.DepthwiseConv2D(3, padding="same")(x)
    x = k.layers.MaxPooling2D(padding="same")(x)
    x = k.layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inp, k.layers.Dense(4, activation="softmax")(x))


def _masked_rnn(k):
    inp = k.Input((7,), dtype="int32")
    x = k.layers.Embedding(6, 5, mask_zero=True)(inp)
    x = k.layers.Bidirectional(k.layers.GRU(4, return_sequences=True, reset_after=False))(x)
    x = k.layers.LSTM(3)(x)
    return k.Model(inp, k.layers.Dense(2)(x))


@pytest.mark.parametrize("build", [_cnn, _masked_rnn], ids=["cnn", "masked-rnn"])
def test_module_runs_under_torchscript(build, tmp_path):
    model = build(keras_module("k3"))
    randomize(model)
    inputs = random_inputs(model, int_high=4)
    want = keras_outputs(model, inputs)
    m = kerasport.load(save(model, tmp_path / "model.keras"), optimize_graph=False)
    py_path, _ = export_pytorch(m, str(tmp_path / "torch"))
    scripted = torch.jit.script(load_generated(py_path).load_model())
    assert max_error(run_torch(scripted, inputs), want) <= TORCH_TOL


# ---- the conversion: checked, verified, refused by name -------------------------------------
@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory):
    model = _cnn(keras_module("k3"))
    randomize(model)
    return save(model, tmp_path_factory.mktemp("cnn") / "cnn.keras")


def test_convert_checks_and_verify_works(cnn_file, tmp_path, capsys):
    from kerasport.cli import main

    out = tmp_path / "cnn_torch"
    result = kerasport.convert(str(cnn_file), str(out), to="pytorch")
    assert result.error is not None and result.error <= TORCH_TOL
    assert sorted(p.name for p in out.iterdir()) == ["model.py", "model.safetensors",
                                                     "reference.npz"]
    assert main(["verify", str(out)]) == 0
    weights = out / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = bytes(64)  # damage the last tensor
    weights.write_bytes(bytes(data))
    assert main(["verify", str(out)]) == 1
    assert "drifted" in capsys.readouterr().out


def test_generated_code_passes_ruff(cnn_file, tmp_path):
    result = kerasport.convert(str(cnn_file), str(tmp_path / "out"), to="pytorch")
    assert_ruff_clean(result.files[0])


def test_without_torch_the_module_is_written_with_a_note(cnn_file, tmp_path, monkeypatch):
    import kerasport.export.pytorch.check as check

    monkeypatch.setattr(check, "torch_available", lambda: False)
    result = kerasport.convert(str(cnn_file), str(tmp_path / "out"), to="pytorch")
    assert result.error is None and (tmp_path / "out" / "model.py").exists()
    assert any("kerasport[pytorch]" in line for line in result.lines)


def test_options_that_do_not_apply_are_refused(cnn_file, tmp_path):
    with pytest.raises(KerasportError, match="--weights and --quantize do not apply"):
        kerasport.convert(str(cnn_file), str(tmp_path / "out"), to="pytorch", weights="int8")
    assert not (tmp_path / "out").exists()


def _hashing(k):
    inp = k.Input((4,), dtype="int32")
    x = k.layers.Hashing(num_bins=5, name="hashing")(inp)
    return k.Model(inp, k.layers.CategoryEncoding(5, output_mode="multi_hot")(x))


def _lookup(k):
    inp = k.Input((4,), dtype="int32")
    return k.Model(inp, k.layers.IntegerLookup(vocabulary=[3, 5, 7], name="integer_lookup")(inp))


@pytest.mark.parametrize(("build", "op", "layer"), [(_hashing, "FarmHash", "hashing"),
                                                    (_lookup, "Lookup", "integer_lookup")])
def test_op_without_pytorch_form_is_refused_by_name(build, op, layer, tmp_path, capsys):
    from kerasport.cli import main

    model = build(keras_module("k3"))
    path = save(model, tmp_path / "model.keras")
    out = tmp_path / "out"
    with pytest.raises(KerasportError, match=f"'{layer}' \\(op {op}\\): no PyTorch form"):
        kerasport.convert(str(path), str(out), to="pytorch")
    assert not out.exists()
    assert main(["convert", str(path), "--to", "pytorch", "-o", str(out)]) == 2
    assert op in capsys.readouterr().err and not out.exists()
    assert list(tmp_path.iterdir()) == [path]


# ---- other sources: a PyTorch model through ONNX comes back as PyTorch code -----------------
ONNX_TOL = 1e-5  # torch -> ONNX -> IR -> generated torch vs the original torch, of the scale


def _export_in_worker(name: str, folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """torch.onnx.export in a child process: torchvision's import of torch._dynamo (triton)
    crashes a process that has TensorFlow loaded."""
    script = (f"import numpy as np; from onnx_torch_models import export; "
              f"p, x, y = export({name!r}, __import__('pathlib').Path({str(folder)!r})); "
              f"np.savez({str(folder / 'io.npz')!r}, x=x, y=y)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).parent), *sys.path]))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(folder / "io.npz") as data:
        return folder / f"{name}.onnx", data["x"], data["y"]


@pytest.mark.parametrize("name", [
    "gru", *(pytest.param(n, marks=pytest.mark.slow)
             for n in ("lstm", "rnn", "transformer", "vit", "resnet18", "mobilenet_v3_small"))])
def test_torch_model_through_onnx_comes_back(name, tmp_path):
    pytest.importorskip("onnx")
    if importlib.util.find_spec("torchvision") is None:  # found, never imported here
        pytest.skip("torchvision is not installed")
    path, x, want = _export_in_worker(name, tmp_path)
    m = kerasport.load(str(path), optimize_graph=False)
    py_path, _ = export_pytorch(m, str(tmp_path / "torch"))
    assert_ruff_clean(py_path)
    got = run_torch(load_generated(py_path).load_model(), [x])
    err = max_error(got, [want])
    ERRORS.append((os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], err))
    assert err <= ONNX_TOL
