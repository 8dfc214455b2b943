"""PyTorch models (torchvision CNNs, a ViT, nn.TransformerEncoder, LSTM/GRU/RNN) exported
with torch.onnx.export, read by kerasport's ONNX reader: NumPy runtime vs torch within 1e-4
of the output scale, standalone Python alike; conv networks run with at most 2 layout
transposes and export back to ONNX without a transpose per op."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

# torch and torchvision are only looked for here: the models are exported in a child process
for _name in ("torch", "torchvision"):
    if importlib.util.find_spec(_name) is None:
        pytest.skip(f"{_name} is not installed", allow_module_level=True)
pytest.importorskip("onnx")

from onnx_torch_models import export_in_child  # noqa: E402
from standalone import run_standalone  # noqa: E402

import kerasport  # noqa: E402

TOL = 1e-4  # max |kerasport - torch| / max |torch|
FAST = ["mobilenet_v3_small", "transformer", "vit", "lstm", "gru", "rnn"]
SLOW = ["resnet18", "efficientnet_b0"]


def _error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache: dict[str, tuple] = {}
    folder = tmp_path_factory.mktemp("torch_onnx")

    def get(name: str) -> tuple:
        if name not in cache:
            cache[name] = export_in_child(name, folder)
        return cache[name]

    return get


@pytest.mark.parametrize("name", [*FAST, *[pytest.param(n, marks=pytest.mark.slow)
                                           for n in SLOW]])
def test_numpy_runtime_matches_torch(exported, name):
    path, x, y = exported(name)
    model = kerasport.load(path)
    assert _error(model.predict(x), y) < TOL
    if name in ("resnet18", "mobilenet_v3_small", "efficientnet_b0"):
        transposes = sum(n.op == "Transpose" for n in model.graph.nodes)
        assert transposes <= 2, f"{transposes} layout transposes"
        assert model.meta["layout_transposes"] == transposes
        # the batch stays free: one sample, then five
        assert _error(model.predict(x[:1]), y[:1]) < TOL
        assert model.predict(np.concatenate([x, x, x[:1]])).shape[0] == 5


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "lstm", "transformer"])
def test_standalone_python_matches_torch(exported, tmp_path, name):
    path, x, y = exported(name)
    result = kerasport.convert(path, str(tmp_path / "py"), to="python")
    py = next(Path(f) for f in result.files if str(f).endswith(".py"))
    outs, info = run_standalone(py, [x], tmp_path)
    assert _error(outs[0], y) < TOL
    assert info["leaked"] == []


def test_conv_network_exports_back_to_onnx_without_a_transpose_per_op(exported, tmp_path):
    onnx = pytest.importorskip("onnx")
    path, x, y = exported("mobilenet_v3_small")
    out = tmp_path / "back.onnx"
    result = kerasport.convert(path, str(out), to="onnx")
    assert result.error < TOL
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("Transpose") <= 2 < ops.count("Conv")


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_recurrent_layers_need_no_layout_transpose(exported, name):
    path, _, _ = exported(name)
    model = kerasport.load(path)
    assert not any(n.op == "Transpose" for n in model.graph.nodes)
