"""Bulk prediction on a local Dask cluster (2 worker processes on 127.0.0.1) and a local Ray
instance: outputs equal the in-process ``Model.predict`` on a few thousand rows, also when a
Dask worker is killed mid-run.

Equality: blocks are multiples of the batch size, so every worker runs the very batches the
in-process predict runs, and results must be identical (NumPy engine); other engines within
1e-5 of NumPy (max|y - y_numpy| / max(1, max|y_numpy|))."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from keras_models import keras_module, max_error, randomize, save

import kerasport
from kerasport.errors import InputError, MissingExtraError
from kerasport.model import as_list

ROWS = 3072
TIMEOUT = 90  # seconds for any one cluster computation


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    """A small CNN with an image and a vector input, two outputs in a dict."""
    k = keras_module("k3")
    img, vec = k.Input((12, 12, 3), name="img"), k.Input((6,), name="vec")
    x = k.layers.Conv2D(16, 3, activation="relu", name="conv1")(img)
    x = k.layers.BatchNormalization(name="bn")(x)
    x = k.layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = k.layers.GlobalAveragePooling2D(name="gap")(x)
    x = k.layers.Concatenate(name="cat")([x, vec])
    model = k.Model([img, vec], {"probs": k.layers.Dense(5, activation="softmax",
                                                         name="probs")(x),
                                 "score": k.layers.Dense(1, name="score")(x)})
    randomize(model)
    path = save(model, tmp_path_factory.mktemp("scale") / "cnn.keras")
    rng = np.random.default_rng(0)
    xs = {"img": rng.standard_normal((ROWS, 12, 12, 3)).astype("float32"),
          "vec": rng.standard_normal((ROWS, 6)).astype("float32")}
    m = kerasport.load(path)
    return m, xs, m.predict(xs)


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       worker_dashboard_address=None)
    c = distributed.Client(cluster, timeout=TIMEOUT)
    yield c
    c.close()
    cluster.close()


def _dask_inputs(xs, rows=256):
    import dask.array as da

    return {k: da.from_array(v, chunks=(rows, *v.shape[1:])) for k, v in xs.items()}


def test_dask_several_inputs_and_outputs(cnn, client):
    import kerasport.dask

    m, xs, want = cnn
    y = kerasport.dask.predict(m, _dask_inputs(xs))
    assert list(y) == ["probs", "score"]
    assert y["probs"].chunks == ((256,) * (ROWS // 256), (5,)) and y["probs"].dtype == np.float32
    got = client.compute(y).result(timeout=TIMEOUT)
    assert max_error(as_list(got), as_list(want)) <= 1e-6


def test_dask_onnxruntime_engine(cnn, client):
    pytest.importorskip("onnxruntime")
    import kerasport.dask

    m, xs, want = cnn
    y = kerasport.dask.predict(m, _dask_inputs(xs, 500), engine="onnxruntime", batch_size=100)
    got = client.compute(y).result(timeout=TIMEOUT)
    assert max_error(as_list(got), as_list(want)) <= 1e-5


def test_dask_dataframe_columns(tmp_path, client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    import kerasport.dask

    k = keras_module("k3")
    inp = k.Input((4,), name="features")
    model = k.Model(inp, k.layers.Dense(3, activation="tanh", name="out")(
        k.layers.Dense(8, activation="relu", name="hidden")(inp)))
    randomize(model)
    m = kerasport.load(save(model, tmp_path / "mlp.keras"))
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.standard_normal((2000, 5)), columns=list("abcde"))
    ddf = dd.from_pandas(frame, npartitions=4)
    y = kerasport.dask.predict(m, ddf, columns=list("bcde"))
    got = client.compute(y).result(timeout=TIMEOUT)
    want = m.predict(frame[list("bcde")].to_numpy(np.float32))
    assert max_error([got], [want]) <= 1e-6
    with pytest.raises(InputError, match=r"columns \['z'\]"):
        kerasport.dask.predict(m, ddf, columns=["b", "c", "d", "z"])
    with pytest.raises(InputError, match="expects shape"):
        kerasport.dask.predict(m, ddf, columns=list("abcde"))


def test_dask_worker_killed_mid_run(cnn, client):
    """One worker process dies while blocks are running; the scheduler recomputes its blocks
    elsewhere (the nanny restarts it) and the result is identical."""
    import kerasport.dask

    m, xs, want = cnn
    y = kerasport.dask.predict(m, _dask_inputs(xs, 64), batch_size=32)
    undisturbed = client.compute(y).result(timeout=TIMEOUT)
    assert max_error(as_list(undisturbed), as_list(want)) <= 1e-6
    client.cancel(y)
    y = kerasport.dask.predict(m, _dask_inputs(xs, 64), batch_size=32)
    future = client.compute(y)
    deadline = time.monotonic() + TIMEOUT

    def finished_blocks(dask_scheduler=None):
        return sum(1 for ts in dask_scheduler.tasks.values()
                   if ts.state == "memory" and "run_block" in str(ts.key))

    while client.run_on_scheduler(finished_blocks) < 2:
        assert time.monotonic() < deadline, "no block finished in time"
        time.sleep(0.01)
    holders = client.run_on_scheduler(lambda dask_scheduler=None: sorted(
        {ws.address for ts in dask_scheduler.tasks.values() if ts.state == "memory"
         and "run_block" in str(ts.key) for ws in ts.who_has}))
    assert not future.done(), "the job finished before a worker could be killed"
    pid = client.run(os.getpid, workers=holders[:1])[holders[0]]
    os.kill(pid, signal.SIGKILL)  # the worker process this test's cluster started
    got = future.result(timeout=TIMEOUT)
    for k in want:
        np.testing.assert_array_equal(got[k], undisturbed[k])


def test_ray_predictor(cnn):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    pd = pytest.importorskip("pandas")
    import kerasport.ray

    m, xs, want = cnn
    n = 2000
    frame = pd.DataFrame({"id": np.arange(n)})
    payload = kerasport.ray.payload(m)
    box: dict = {}

    def run():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True, _node_ip_address="127.0.0.1")
        try:
            ds = ray.data.from_pandas(frame).map_batches(
                _attach(xs, n), batch_format="numpy").map_batches(
                kerasport.ray.Predictor, batch_format="numpy", batch_size=256, concurrency=2,
                fn_constructor_kwargs={"model": payload, "keep_columns": ["id"],
                                       "output_columns": ["p", "s"]})
            box["rows"] = ds.to_pandas()
        except Exception as exc:  # reported below, in the test's thread
            box["error"] = exc
        finally:
            ray.shutdown()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(2 * TIMEOUT)
    assert not worker.is_alive(), "Ray did not finish in time"
    if "error" in box:
        raise box["error"]
    rows = box["rows"].sort_values("id")
    got_p = np.stack(rows["p"].to_numpy())
    got_s = np.stack(rows["s"].to_numpy())
    assert max_error([got_p, got_s], [want["probs"][:n], want["score"][:n]]) <= 1e-6


def _attach(xs, n):
    """A batch function adding the image and vector columns for the rows' ids."""
    img, vec = xs["img"][:n], xs["vec"][:n]

    def add(batch):
        ids = batch["id"]
        return {"id": ids, "img": img[ids], "vec": vec[ids]}

    return add


def test_dask_missing_names_the_extra(cnn, monkeypatch):
    import kerasport.dask

    m, xs, _ = cnn
    monkeypatch.setitem(sys.modules, "dask", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(MissingExtraError, match=r"kerasport\[dask\]"):
        kerasport.dask.predict(m, xs)


def test_scale_page_is_current():
    """docs/scale.md is the rendering of benchmarks/scale_results.json (nothing measured)."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    result = subprocess.run([sys.executable, "scale.py", "--check"], capture_output=True,
                            text=True, cwd=root / "benchmarks", env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_payload_checked_before_use(cnn):
    """Bytes that are not a bundle, or do not match their digest, are refused with a
    ModelFileError; a good payload is loaded once per process and engine."""
    import hashlib

    from kerasport.errors import ModelFileError
    from kerasport.workers import Payload, load_payload, to_payload

    m, xs, want = cnn
    payload = to_payload(m)
    assert to_payload(payload.data).digest == payload.digest
    # (a digest already loaded in this process is served from the cache, whose model was
    # checked when it was loaded: the bytes are only read on a cache miss)
    other = hashlib.sha256(b"another model").hexdigest()
    with pytest.raises(ModelFileError, match="does not match its digest"):
        load_payload(Payload(payload.data[:-1] + b"\0", other))
    junk = b"PK\x03\x04 not a bundle"
    with pytest.raises(ModelFileError, match="not a kerasport bundle"):
        load_payload(Payload(junk, hashlib.sha256(junk).hexdigest()))
    assert load_payload(payload) is load_payload(payload)
    got = load_payload(payload).predict(xs)
    assert max_error(as_list(got), as_list(want)) == 0.0
