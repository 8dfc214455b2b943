"""Build real Keras models (Keras 3 and Keras 2 via tf_keras), randomise every weight, save
them in all four formats, and compare kerasport's outputs with Keras' own.

Tolerance: float32 parity is measured as max|kerasport - keras| / max(1, max|keras|); the
default bound is TOL = 1e-5.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from standalone import run_standalone

import kerasport
from kerasport.metrics import max_relative_error
from kerasport.model import as_list

TOL = 1e-5
# (keras flavour, file extension): Keras 3 and Keras 2 (tf_keras), .keras and .h5.
FORMATS = [("k3", "keras"), ("k3", "h5"), ("k2", "keras"), ("k2", "h5")]
FORMAT_IDS = [f"{k}-{ext}" for k, ext in FORMATS]
FREE_DIM = 6  # size given to free (None) non-batch dims in test inputs
ERRORS: list[tuple[str, float]] = []  # (test id, max error): summarised at the end of the run


def keras_module(flavour: str):
    """Keras 3 (``keras``) or Keras 2 (``tf_keras``)."""
    if flavour == "k3":
        return pytest.importorskip("keras")
    return pytest.importorskip("tf_keras")


def randomize(model, seed: int = 0) -> None:
    """Give every weight random values (biases, BatchNorm statistics, PReLU alphas too)."""
    rng = np.random.default_rng(seed)
    for layer in _all_layers(model):
        weights = layer.weights
        if not weights or hasattr(layer, "layers"):
            continue
        new = []
        for w in weights:
            shape = tuple(w.shape)
            name = w.name.split("/")[-1].split(":")[0] if hasattr(w, "name") else ""
            path = getattr(w, "path", name)
            if "variance" in name or "variance" in path:
                v = rng.uniform(0.5, 1.5, shape)
            elif name == "gamma":
                v = 1.0 + 0.3 * rng.standard_normal(shape)
            elif len(shape) >= 2:
                fan_in = int(np.prod(shape[:-1]))
                v = rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))
            else:
                v = 0.3 * rng.standard_normal(shape)
            new.append(v.astype(np.float32))
        layer.set_weights(new)


def _all_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        yield layer


def random_inputs(model, batch: int = 3, seed: int = 1, int_high: int = 5) -> list[np.ndarray]:
    """Random inputs fitting ``model``'s inputs (free dims get FREE_DIM)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = [batch] + [FREE_DIM if d is None else int(d) for d in tuple(t.shape)[1:]]
        dtype = str(t.dtype.name if hasattr(t.dtype, "name") else t.dtype)
        if "int" in dtype:
            out.append(rng.integers(0, int_high, size=shape).astype(dtype))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def keras_outputs(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Keras' own inference outputs."""
    y = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    return [np.asarray(t) for t in _flat(y)]


def _flat(y) -> list:
    """Outputs nested in lists, tuples or dicts (a stacked RNN's states), in order."""
    if isinstance(y, dict):
        return [t for v in y.values() for t in _flat(v)]
    if isinstance(y, (list, tuple)):
        return [t for v in y for t in _flat(v)]
    return [y]


def max_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """max|got - want| / max(1, max|want|) over all outputs (kerasport.metrics), after
    checking the output count and shapes."""
    assert len(got) == len(want), f"{len(got)} outputs, Keras has {len(want)}"
    for g, w in zip(got, want):
        assert g.shape == w.shape, f"shape {g.shape} != Keras' {w.shape}"
    return max_relative_error(list(got), list(want))


def every_format(make: Callable[[Any], Any], directory: Path) -> dict[str, Path]:
    """``make(k)`` built with Keras 3 and tf_keras, randomised, saved as .keras and .h5:
    paths keyed "k3.keras", "k3.h5", "k2.keras", "k2.h5"."""
    out = {}
    for flavour in ("k3", "k2"):
        model = make(keras_module(flavour))
        randomize(model)
        for ext in ("keras", "h5"):
            out[f"{flavour}.{ext}"] = save(model, directory / f"{flavour}.{ext}")
    return out


def save(model, path: Path) -> Path:
    """Save in the format given by the path's extension."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(str(path))
    return path


def check_parity(build: Callable[[Any], Any], flavour: str, ext: str, tmp_path: Path,
                 tol: float = TOL, batch: int = 3, int_high: int = 5,
                 standalone: bool = True, onnx: bool = True) -> float:
    """Build with Keras, randomise, save, load with kerasport (file and bundle), compare.
    Returns the max error seen."""
    k = keras_module(flavour)
    try:
        model = build(k)
    except (AttributeError, TypeError, ValueError, NotImplementedError) as exc:
        if flavour == "k2":
            pytest.skip(f"this Keras 2 version cannot build the model: {exc}")
        raise
    randomize(model)
    inputs = random_inputs(model, batch=batch, int_high=int_high)
    want = keras_outputs(model, inputs)
    path = save(model, tmp_path / f"model.{ext}")
    m = kerasport.load(path)
    got = as_list(m.predict(inputs if len(inputs) > 1 else inputs[0]))
    check_shape_rules(m, inputs)
    err = max_error(got, want)
    ERRORS.append((os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], err))
    assert err <= tol, f"max error {err:.3g} > {tol:.3g} ({flavour} .{ext})"
    bundle = tmp_path / "model.npz"
    m.save(str(bundle))
    again = as_list(kerasport.load(bundle).predict(inputs if len(inputs) > 1 else inputs[0]))
    assert max_error(again, got) == 0.0, "bundle output differs from the model file's"
    if ext == "keras" and standalone:
        check_standalone(m, inputs, got, tmp_path)
    if ext == "keras" and onnx:
        check_onnx(m, inputs, got)
    return err


ONNX_TOL = 1e-5


def check_onnx(m, inputs: list[np.ndarray], expected: list[np.ndarray],
               opset: int = 17) -> float:
    """The ONNX export runs in ONNX Runtime and gives the runtime's outputs (ONNX_TOL)."""
    ort = pytest.importorskip("onnxruntime")
    from kerasport.errors import KerasportError
    from kerasport.export.onnx import supported_ops, to_onnx

    missing = {n.op for n in m.graph.nodes} - set(supported_ops())
    if missing:  # not exportable yet: the error must name the op and the layer
        with pytest.raises(KerasportError, match="no ONNX mapping yet"):
            to_onnx(m, opset=opset)
        return 0.0
    proto = to_onnx(m, opset=opset)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {i.name: a for i, a in zip(sess.get_inputs(), inputs)}
    outs = sess.run(None, feed)
    err = max_error([np.asarray(o) for o in outs], expected)
    assert err <= ONNX_TOL, f"ONNX Runtime output differs from kerasport's by {err:.3g}"
    return err


def check_shape_rules(m, inputs: list[np.ndarray]) -> None:
    """Every value's inferred shape (ops' shape rules) fits the array the kernels produced."""
    values = m.run_all(inputs if len(inputs) > 1 else inputs[0])
    for name, arr in values.items():
        shape = m.graph.values[name].shape
        assert shape is not None and len(shape) == arr.ndim and all(
            d is None or d == a for d, a in zip(shape, arr.shape)), (
            f"shape rule: {name} inferred {shape}, kernel gave {arr.shape}")


def check_standalone(m, inputs: list[np.ndarray], expected: list[np.ndarray],
                     tmp_path: Path) -> None:
    """The generated standalone module, run with numpy alone, gives the runtime's outputs."""
    from kerasport.export.python import export_python

    py_path, _ = export_python(m, str(tmp_path / "standalone"), name="model")
    outs, info = run_standalone(Path(py_path), inputs, tmp_path)
    assert info["leaked"] == [], f"standalone code imported {info['leaked']}"
    assert info["self_check"] <= 1e-6, info
    err = max_error(outs, expected)
    assert err <= 1e-6, f"standalone output differs from the runtime's by {err:.3g}"
