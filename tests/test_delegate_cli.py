"""PyTorch and TensorFlow sources in ``kerasport convert`` and ``kerasport batch``: exported to
ONNX by their own framework in kerasport.delegate's worker process, then converted like any
model; the report states the framework's own output against kerasport's. And ONNX sources
(torch-exported CNN and GRU) converted --to tflite by kerasport's writer.

Tolerances: the framework's output vs kerasport's, and every check of the conversion, within
1e-4 of the output's scale (float32 through a different summation order); the TFLite file run
in LiteRT against PyTorch within 1e-5 (relative to max(1, |output|)), measured 3e-8."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kerasport
from kerasport.cli import main
from kerasport.errors import InputError

TOL = 1e-4

# every weight random, BatchNorm statistics too; a grouped conv followed by a Relu
NET = textwrap.dedent("""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            for t in (self.bn.weight, self.bn.bias, self.bn.running_mean):
                t.data.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.group = torch.nn.Conv2d(8, 8, 3, stride=2, groups=2)
            self.fc = torch.nn.Linear(8, 5)

        def forward(self, x):
            y = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
            y = torch.relu(self.group(y))
            return torch.softmax(self.fc(y.mean(dim=(2, 3))), -1)

    class GRUNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(2)
            self.gru = torch.nn.GRU(6, 10, batch_first=True)
            self.fc = torch.nn.Linear(10, 3)

        def forward(self, x):
            y, _ = self.gru(x)
            return self.fc(y[:, -1])
""")


def _script(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    return path


def _needs(*names: str) -> None:
    """Skip unless installed, without importing: torch runs only in child processes (with
    TensorFlow loaded, as a whole test session has, its import of torch._dynamo can crash)."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")


def _in_child(tmp_path, code: str) -> None:
    """Run ``code`` in a fresh Python in ``tmp_path``, with net.py importable as ``net``."""
    _script(tmp_path)
    done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.')\n" + code],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _source_error(out: str) -> float:
    """The framework-vs-kerasport error of the report's source line."""
    match = re.search(r"own output vs kerasport's: max relative error ([0-9.e+-]+)", out)
    assert match, out
    return float(match.group(1))


def test_network_script_to_bundle_and_tflite(tmp_path, capsys):
    _needs("torch", "ai_edge_litert")
    script = _script(tmp_path)
    bundle = tmp_path / "net.npz"
    assert main(["convert", str(script), "--network-name", "Net", "--input-shape", "2,3,16,16",
                 "-o", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "network script's module exported to ONNX by PyTorch" in out
    assert _source_error(out) < TOL
    assert kerasport.load(bundle).verify() < TOL  # the bundle's reference is torch's output
    result = kerasport.convert(str(script), str(tmp_path / "net.tflite"), to="tflite",
                               network_name="Net", input_shape=(2, 3, 16, 16))
    assert "PyTorch's own output vs kerasport's" in result.lines[0]
    assert result.error is not None and result.error < TOL  # LiteRT vs kerasport


def test_refusals_before_any_worker(tmp_path, capsys):
    script = _script(tmp_path)
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(b"\0")
    cases = [
        (["convert", str(script), "--network-name", "Net"], "needs --input-shape"),
        (["convert", str(script), "--input-shape", "1,3,8,8"], "needs --network-name"),
        (["convert", str(script), "--network-name", "Net", "--input-shape", "1,x"],
         "--input-shape expects comma-separated positive ints"),
        (["convert", str(script), "--network-name", "Net", "--input-shape", "1,0"],
         "positive ints"),
        (["convert", str(pb), "--input-shape", "1,4"], "needs --input-nodes"),
        (["convert", str(pb), "--input-shape", "1,4", "--input-nodes", "x:0"],
         "needs --output-nodes"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
        assert not list(tmp_path.glob("*.npz"))
    bundle = tmp_path / "model.npz"
    bundle.write_bytes(b"PK")
    with pytest.raises(InputError, match="for sources converted by their own framework"):
        kerasport.convert(str(bundle), str(tmp_path / "b.onnx"), to="onnx", input_shape="1,4")


def test_batch_file_with_a_network_script(tmp_path, capsys):
    _needs("torch")
    _script(tmp_path)
    config = tmp_path / "jobs.toml"
    config.write_text(textwrap.dedent("""
        [[tasks]]
        name = "script"
        convert_from = "net.py"
        convert_to = "bundle"
        output = "out/net.npz"
        options = { network_name = "Net", input_shape = [1, 3, 16, 16] }

        [[tasks]]
        name = "no-shape"
        convert_from = "net.py"
        convert_to = "onnx"
        options = { network_name = "Net" }

        [[tasks]]
        name = "no-class"
        convert_from = "net.py"
        convert_to = "onnx"
        output = "out/missing.onnx"
        options = { network_name = "Missing", input_shape = "1,3,8,8" }
    """))
    assert main(["batch", str(config)]) == 1
    out = capsys.readouterr().out
    assert _source_error(out) < TOL
    assert re.search(r"script\s+bundle\s+.*\bok\b", out)
    assert re.search(r"no-shape\s+onnx\s+.*needs --input-shape.*FAILED", out)
    assert re.search(r"no-class\s+onnx\s+.*worker failed.*FAILED", out)
    assert "defines no 'Missing'" in out and not (tmp_path / "out" / "missing.onnx").exists()
    assert kerasport.load(tmp_path / "out" / "net.npz").verify() < TOL
    from kerasport.batch import read_batch_file, task_argv

    argv = task_argv(read_batch_file(str(config))[0])
    assert argv[argv.index("--input-shape") + 1] == "1,3,16,16"


EXPORT = """
import numpy as np, torch, net
name, shape = sys.argv[1], tuple(int(d) for d in sys.argv[2].split(","))
module = getattr(net, name)().eval()
torch.onnx.export(module, (torch.zeros(shape),), name + ".onnx", dynamo=False,
                  input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=17)
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
with torch.no_grad():
    np.savez(name + "_io.npz", x=x, y=module(torch.from_numpy(x)).numpy())
"""


@pytest.mark.parametrize("name,shape", [("Net", (3, 3, 16, 16)), ("GRUNet", (3, 7, 6))])
def test_onnx_source_to_tflite(tmp_path, name, shape):
    _needs("torch", "onnx", "ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    _script(tmp_path)
    done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.')\n" +
                           EXPORT, name, ",".join(map(str, shape))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp_path / f"{name}_io.npz", allow_pickle=False) as io:
        x, want = io["x"], io["y"]
    out = tmp_path / f"{name}.tflite"
    result = kerasport.convert(str(tmp_path / f"{name}.onnx"), str(out), to="tflite")
    assert result.error is not None and result.error < TOL  # the conversion's LiteRT check
    interp = Interpreter(model_path=str(out))
    index = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(index, list(shape))
    interp.allocate_tensors()
    interp.set_tensor(index, x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    err = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
    print(f"{name}: TFLite (LiteRT) vs torch {err:.1e}", file=sys.stderr)
    assert err < 1e-5


@pytest.mark.slow
def test_torchscript_to_onnx(tmp_path, capsys):
    _needs("torch", "onnxruntime")
    _in_child(tmp_path, "import torch, net\ntorch.jit.script(net.Net().eval()).save('net.pt')")
    pt = tmp_path / "net.pt"
    assert main(["convert", str(pt), "--input-shape", "2,3,16,16", "--to", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "TorchScript module exported to ONNX by PyTorch" in out
    assert _source_error(out) < TOL
    err = re.search(r"ONNX Runtime vs kerasport: max relative error ([0-9.e+-]+)", out)
    assert err and float(err.group(1)) < TOL
    assert (tmp_path / "net.onnx").exists()
    assert main(["convert", str(pt), "--network-name", "Net", "--input-shape", "1,3,8,8",
                 "-o", str(tmp_path / "x.npz")]) == 2
    assert "TorchScript file holds its module" in capsys.readouterr().err


def _tf_sources(tf, tmp_path):
    """A tf.Module SavedModel (no Keras metadata), its frozen .pb, and a TF1 checkpoint .meta;
    random weights."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    rng = np.random.default_rng(3)

    class Small(tf.Module):
        def __init__(self):
            self.w = tf.Variable(rng.standard_normal((4, 6)).astype(np.float32))
            self.b = tf.Variable(rng.standard_normal(6).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            return tf.nn.softmax(tf.tanh(x @ self.w + self.b))

    module = Small()
    tf.saved_model.save(module, str(tmp_path / "sm"))
    frozen = convert_variables_to_constants_v2(module.__call__.get_concrete_function())
    tf.io.write_graph(frozen.graph.as_graph_def(), str(tmp_path), "frozen.pb", as_text=False)
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        w = tf.compat.v1.get_variable(
            "w", initializer=rng.standard_normal((4, 3)).astype(np.float32))
        tf.identity(tf.nn.sigmoid(tf.matmul(x, w)), name="y")
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, str(tmp_path / "ckpt" / "model"))
    return frozen.inputs[0].name, frozen.outputs[0].name


@pytest.mark.slow
def test_tensorflow_sources(tmp_path, capsys):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    pytest.importorskip("ai_edge_litert")
    x_name, y_name = _tf_sources(tf, tmp_path)
    runs = [
        (["convert", str(tmp_path / "sm"), "--input-shape", "3,4", "--to", "tflite"],
         "SavedModel (tf2onnx)", tmp_path / "sm.tflite"),
        (["convert", str(tmp_path / "frozen.pb"), "--input-nodes", x_name, "--output-nodes",
          y_name, "--input-shape", "3,4"], "frozen graph (tf2onnx)", tmp_path / "frozen.npz"),
        (["convert", str(tmp_path / "ckpt" / "model.meta"), "--input-nodes", "x:0",
          "--output-nodes", "y:0", "--input-shape", "2,4", "--to", "python", "-o",
          str(tmp_path / "ck")], "checkpoint graph (tf2onnx)", tmp_path / "ck"),
    ]
    for argv, what, written in runs:
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert what in out and "TensorFlow's own output" in out
        assert _source_error(out) < TOL
        assert written.exists()
    assert kerasport.load(tmp_path / "frozen.npz").verify() < TOL


def test_keras_grouped_conv_relu_to_tflite(tmp_path):
    """The same fused-Relu-after-grouped-conv case from Keras (it was 0.95 off before)."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("ai_edge_litert")
    model = keras.Sequential([keras.Input((12, 12, 4)),
                              keras.layers.Conv2D(8, 3, groups=2, activation="relu"),
                              keras.layers.Flatten()])
    rng = np.random.default_rng(5)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.save(tmp_path / "g.keras")
    result = kerasport.convert(str(tmp_path / "g.keras"), str(tmp_path / "g.tflite"),
                               to="tflite")
    assert result.error is not None and result.error < TOL
