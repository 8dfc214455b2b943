"""PyTorch models for the ONNX reader's tests and benchmark: built with random weights
(BatchNorm statistics too), exported with torch.onnx.export (the TorchScript exporter:
the dynamo one needs onnxscript), with the reference output torch computed."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _randomise_norms(model) -> None:
    import torch

    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.running_mean.data.uniform_(-0.5, 0.5)
            mod.running_var.data.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.5, 0.5)


def _recurrent(kind: str):
    import torch

    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    bidir = kind != "gru"

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cls(8, 16, num_layers=2, batch_first=True, bidirectional=bidir)
            self.head = torch.nn.Linear(32 if bidir else 16, 5)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.head(y[:, -1])

    return Recurrent()


def build(name: str, batch: int = 2):
    """(torch module in eval mode, example input, dynamic batch?) for ``name``."""
    import torch
    import torchvision

    torch.manual_seed(0)
    if name == "vit":
        from torchvision.models.vision_transformer import VisionTransformer

        model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                  hidden_dim=32, mlp_dim=64, num_classes=10)
        torch.nn.init.normal_(model.heads.head.weight)  # torchvision starts it at zero
        return model.eval(), torch.randn(batch, 3, 32, 32), False
    if name in ("resnet18", "mobilenet_v3_small", "efficientnet_b0"):
        model = getattr(torchvision.models, name)(weights=None)
        _randomise_norms(model)
        return model.eval(), torch.randn(batch, 3, 224, 224), True
    if name == "transformer":
        layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        model = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        # attention merges the batch with the heads: exported with a fixed batch
        return model.eval(), torch.randn(batch, 10, 32), False
    return _recurrent(name).eval(), torch.randn(batch, 7, 8), True


def export_in_child(name: str, folder: Path,
                    batch: int = 2) -> tuple[Path, np.ndarray, np.ndarray]:
    """``export`` in a fresh Python process: importing torchvision (torch._dynamo, triton) in
    a process that has TensorFlow loaded can crash it, and a test session has both."""
    import os
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    script = ("import sys, numpy as np; from pathlib import Path; "
              "from onnx_torch_models import export; "
              f"p, x, y = export({name!r}, Path(sys.argv[1]), {batch}); "
              "np.savez(Path(sys.argv[1]) / (p.stem + '_io.npz'), x=x, y=y)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [here, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True,
                          text=True, env=env, timeout=600)
    if done.returncode:
        raise RuntimeError(f"exporting {name} failed:\n{done.stderr[-3000:]}")
    with np.load(folder / f"{name}_io.npz", allow_pickle=False) as io:
        return folder / f"{name}.onnx", io["x"], io["y"]


def export(name: str, folder: Path, batch: int = 2) -> tuple[Path, np.ndarray, np.ndarray]:
    """(path of the .onnx file, input, torch's output)."""
    import torch

    model, x, dynamic = build(name, batch)
    path = folder / f"{name}.onnx"
    axes = {"x": {0: "N"}, "y": {0: "N"}} if dynamic else None
    torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes=axes, opset_version=17)
    with torch.no_grad():
        y = model(x).numpy()
    return path, x.numpy(), y
