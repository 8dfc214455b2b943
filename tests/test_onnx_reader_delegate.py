"""Sources by delegation: PyTorch (network script, TorchScript) and TensorFlow (a tf.Module
SavedModel, a frozen .pb) exported to ONNX in a worker process, read by kerasport, compared
with the framework's own output (within 1e-4 of the output scale)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from kerasport import delegate
from kerasport.errors import KerasportError

TOL = 1e-4

NET = textwrap.dedent("""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            return self.fc(y.mean(dim=(2, 3)))

    class Broken(torch.nn.Module):
        def __init__(self):
            raise RuntimeError("this network cannot be built")
""")


def test_network_script(tmp_path):
    pytest.importorskip("torch")
    script = tmp_path / "net.py"
    script.write_text(NET)
    model = delegate.from_torch(script, input_shape=(2, 3, 16, 16), network_name="Net")
    assert model.meta["error_vs_source"] < TOL
    assert model.predict(np.zeros((5, 3, 16, 16), np.float32)).shape == (5, 4)


@pytest.mark.slow
def test_torchscript_file(tmp_path):
    torch = pytest.importorskip("torch")
    script = tmp_path / "net.py"
    script.write_text(NET)
    namespace: dict = {}
    exec(compile(NET, str(script), "exec"), namespace)
    path = tmp_path / "net.pt"
    torch.jit.script(namespace["Net"]().eval()).save(str(path))
    model = delegate.from_torch(path, input_shape=(1, 3, 16, 16))
    assert model.meta["error_vs_source"] < TOL
    assert model.meta["source_format"] == "torchscript"


@pytest.mark.slow
def test_network_script_that_raises(tmp_path):
    pytest.importorskip("torch")
    script = tmp_path / "net.py"
    script.write_text(NET)
    with pytest.raises(KerasportError, match="this network cannot be built"):
        delegate.from_torch(script, input_shape=(1, 3, 8, 8), network_name="Broken")
    with pytest.raises(KerasportError, match="defines no 'Missing'"):
        delegate.from_torch(script, input_shape=(1, 3, 8, 8), network_name="Missing")


def _tf_module(tf):
    class Small(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(3)
            self.w = tf.Variable(rng.standard_normal((4, 6)).astype(np.float32))
            self.b = tf.Variable(rng.standard_normal(6).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            return tf.nn.softmax(tf.tanh(x @ self.w + self.b))

    return Small()


@pytest.mark.slow
def test_tensorflow_saved_model_and_frozen_graph(tmp_path):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    module = _tf_module(tf)
    tf.saved_model.save(module, str(tmp_path / "sm"))
    model = delegate.from_tensorflow(tmp_path / "sm", input_shape=(3, 4))
    assert model.meta["error_vs_source"] < TOL
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(module.__call__.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    tf.io.write_graph(graph_def, str(tmp_path), "frozen.pb", as_text=False)
    ins = [t.name for t in frozen.inputs]
    outs = [t.name for t in frozen.outputs]
    model = delegate.from_tensorflow(tmp_path / "frozen.pb", input_shape=(3, 4),
                                     input_nodes=ins, output_nodes=outs)
    assert model.meta["error_vs_source"] < TOL


@pytest.mark.slow
def test_command_line_writes_a_verifiable_bundle(tmp_path, capsys):
    pytest.importorskip("torch")
    import kerasport
    from kerasport.delegate.__main__ import main

    script = tmp_path / "net.py"
    script.write_text(NET)
    out = tmp_path / "net.npz"
    assert main([str(script), "--network-name", "Net", "--input-shape", "2,3,8,8",
                 "-o", str(out)]) == 0
    assert "max relative error" in capsys.readouterr().out
    assert kerasport.load(out).verify() < TOL  # the reference is torch's own output
    assert main([str(script), "--network-name", "Broken", "--input-shape", "1,3,8,8",
                 "-o", str(tmp_path / "no.npz")]) == 2
    assert not (tmp_path / "no.npz").exists()
