"""Version-1 bundles (Keras activation names and keras_major on recurrent nodes) still load:
their attributes become activation specs, as the Keras version that wrote them meant."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerasport.bundle import GRAPH_KEY, VERSION, load_bundle, save_bundle
from kerasport.errors import ModelFileError
from kerasport.ir.builder import Builder
from kerasport.runtime.executor import Executor

RNG = np.random.default_rng(1)
F, U, T = 3, 4, 5


def _lstm_graph(activation, recurrent_activation):
    b = Builder()
    x = b.input("x", (None, T, F), "float32")
    w = [b.const(n, RNG.standard_normal(s).astype(np.float32) * 0.5)
         for n, s in (("k", (F, 4 * U)), ("rk", (U, 4 * U)), ("b", (4 * U,)))]
    y = b.op("LSTM", [x, *w], "lstm", {"activation": activation,
                                      "recurrent_activation": recurrent_activation,
                                      "return_sequences": True}, layer="lstm", n_out=3)[0]
    return b.finish([x], [y], "single", "single", "m", ["lstm"])


def _as_v1(path, attrs, drop=()):
    """Rewrite a saved bundle's header as main's version-1 format wrote it."""
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    header = json.loads(arrays[GRAPH_KEY].tobytes().decode("utf-8"))
    header["version"] = 1
    header["graph"]["nodes"][0]["attrs"].update(attrs)
    for key in drop:
        del header["graph"]["nodes"][0]["attrs"][key]
    arrays[GRAPH_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("major, slope", [(2, 0.2), (3, 1.0 / 6.0)])
def test_v1_bundle_upgrades_hard_sigmoid_per_keras_version(tmp_path, major, slope):
    assert VERSION == 2
    want = _lstm_graph({"op": "Tanh"}, {"op": "HardSigmoid", "slope": slope, "offset": 0.5})
    path = str(tmp_path / "v1.npz")
    save_bundle(want, path)
    _as_v1(path, {"activation": "tanh", "recurrent_activation": "hard_sigmoid",
                  "keras_major": major})
    graph, _, _ = load_bundle(path)
    attrs = graph.nodes[0].attrs
    assert "keras_major" not in attrs
    assert attrs["recurrent_activation"] == {"op": "HardSigmoid", "slope": slope, "offset": 0.5}
    x = RNG.standard_normal((2, T, F)).astype(np.float32)
    np.testing.assert_array_equal(Executor(graph).run([x])[0], Executor(want).run([x])[0])


def test_v1_bundle_with_linear_and_missing_names(tmp_path):
    want = _lstm_graph(None, {"op": "Sigmoid"})
    path = str(tmp_path / "v1.npz")
    save_bundle(want, path)
    _as_v1(path, {"activation": "linear", "keras_major": 3}, drop=["recurrent_activation"])
    graph, _, _ = load_bundle(path)
    assert graph.nodes[0].attrs["activation"] is None
    assert "recurrent_activation" not in graph.nodes[0].attrs  # the kernel's sigmoid, as in v1
    x = RNG.standard_normal((2, T, F)).astype(np.float32)
    np.testing.assert_array_equal(Executor(graph).run([x])[0], Executor(want).run([x])[0])


def test_v1_bundle_with_unknown_activation_is_refused(tmp_path):
    path = str(tmp_path / "v1.npz")
    save_bundle(_lstm_graph({"op": "Tanh"}, {"op": "Sigmoid"}), path)
    _as_v1(path, {"activation": "exponential", "keras_major": 3})
    with pytest.raises(ModelFileError, match="not a recurrent activation"):
        load_bundle(path)


def test_v2_bundle_with_bad_spec_is_refused(tmp_path):
    path = str(tmp_path / "v2.npz")
    save_bundle(_lstm_graph({"op": "Tanh"}, {"op": "Sigmoid"}), path)
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    header = json.loads(arrays[GRAPH_KEY].tobytes().decode("utf-8"))
    header["graph"]["nodes"][0]["attrs"]["activation"] = {"op": "Reshape"}
    arrays[GRAPH_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelFileError, match="not an activation op"):
        load_bundle(path)
