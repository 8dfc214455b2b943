"""Bad input to the SavedModel, checkpoint, JSON + weights and TF.js readers: each a kerasport
error that names the file and what is wrong, and nothing written."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import readers_forms as forms
from keras_models import keras_module, randomize

import kerasport
from kerasport.errors import KerasportError, MissingExtraError, ModelFileError, WeightsError


def _model(k, units: int = 4):
    inp = k.Input((5,))
    x = k.layers.Dense(units, activation="relu", name="hidden")(inp)
    return k.Model(inp, k.layers.Dense(2, name="out")(x))


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, tuple[str, str | None]]:
    """One small tf_keras model in the SavedModel, JSON + checkpoint and TF.js forms, and the
    checkpoint of a model of the same shape with a wider hidden layer."""
    k = keras_module("k2")
    base = tmp_path_factory.mktemp("bad")
    model = _model(k)
    randomize(model)
    out = {}
    for name, form in (("savedmodel", forms.savedmodel), ("json+ckpt", forms.json_ckpt),
                       ("tfjs", forms.tfjs)):
        (base / name).mkdir()
        out[name] = form(model, base / name)
    (base / "wide").mkdir()
    out["wide"] = forms.json_ckpt(_model(k, 6), base / "wide")
    return out


def _copy(src: str, dst: Path) -> Path:
    """A copy of a file's or directory's folder to damage."""
    src_path = Path(src)
    folder = src_path if src_path.is_dir() else src_path.parent
    shutil.copytree(folder, dst)
    return dst / src_path.name if not src_path.is_dir() else dst


def _refused(path, weights, tmp_path: Path, error=ModelFileError, match: str = "") -> str:
    """Converting must fail with ``error`` matching ``match`` and write nothing."""
    out = tmp_path / "out.npz"
    with pytest.raises(error, match=match) as info:
        kerasport.convert(str(path), str(out), weights_file=weights)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kerasport")] == []
    return str(info.value)


def test_truncated_index(saved, tmp_path):
    arch, weights = saved["json+ckpt"]
    index = _copy(weights, tmp_path / "ck")
    index.write_bytes(index.read_bytes()[:-20])
    msg = _refused(arch, str(index), tmp_path, match="truncated")
    assert str(index) in msg


def test_corrupt_index_block(saved, tmp_path):
    arch, weights = saved["json+ckpt"]
    index = _copy(weights, tmp_path / "ck")
    data = bytearray(index.read_bytes())
    data[10] ^= 0xFF
    index.write_bytes(bytes(data))
    _refused(arch, str(index), tmp_path, match="checksum mismatch")


def test_truncated_data_shard(saved, tmp_path):
    arch, weights = saved["json+ckpt"]
    index = _copy(weights, tmp_path / "ck")
    shard = next(index.parent.glob("w.data-*"))
    shard.write_bytes(shard.read_bytes()[:-8])
    _refused(arch, str(index), tmp_path, match="truncated")


def test_missing_data_shard(saved, tmp_path):
    arch, weights = saved["json+ckpt"]
    index = _copy(weights, tmp_path / "ck")
    next(index.parent.glob("w.data-*")).unlink()
    _refused(arch, str(index), tmp_path, match="data")


def test_truncated_savedmodel_variables(saved, tmp_path):
    path = _copy(saved["savedmodel"][0], tmp_path / "sm")
    shard = next((path / "variables").glob("variables.data-*"))
    shard.write_bytes(shard.read_bytes()[:10])
    _refused(path, None, tmp_path, match="truncated")


def test_checkpoint_of_another_model(saved, tmp_path):
    """The first misshaped variable is named, with both shapes."""
    arch, _ = saved["json+ckpt"]
    _, wide = saved["wide"]
    msg = _refused(arch, wide, tmp_path, WeightsError, match="hidden")
    assert "(5, 6)" in msg and "(5, 4)" in msg


def test_checkpoint_missing_a_layer(saved, tmp_path):
    """An architecture with a layer the checkpoint does not hold: that layer is named."""
    k = keras_module("k2")
    inp = k.Input((5,))
    x = k.layers.Dense(4, activation="relu", name="hidden")(inp)
    x = k.layers.Dense(3, name="extra")(x)
    model = k.Model(inp, k.layers.Dense(2, name="out")(x))
    arch = tmp_path / "model.json"
    arch.write_text(model.to_json())
    _refused(arch, saved["json+ckpt"][1], tmp_path, WeightsError, match="extra|out")


@pytest.mark.parametrize("doc", [{"foo": 1}, [1, 2], {"class_name": "Dense", "config": {}},
                                 {"modelTopology": {}, "weightsManifest": []}])
def test_json_that_is_not_a_keras_model(saved, tmp_path, doc):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    _refused(path, saved["json+ckpt"][1], tmp_path, match="not a Keras model JSON|no Keras")
    _refused(path, None, tmp_path, match="not a Keras model JSON|no Keras")


def test_architecture_alone_asks_for_weights(saved, tmp_path):
    _refused(saved["json+ckpt"][0], None, tmp_path, match="--weights-file")


def test_savedmodel_without_keras_metadata(tmp_path):
    tf = pytest.importorskip("tensorflow")
    module = tf.Module()
    module.v = tf.Variable(1.0)
    module.f = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([None])])
    tf.saved_model.save(module, str(tmp_path / "plain"))
    msg = _refused(tmp_path / "plain", None, tmp_path, match="tf2onnx")
    assert "without Keras metadata" in msg


def test_keras_model_saved_with_tf_saved_model_save(tmp_path):
    tf = pytest.importorskip("tensorflow")
    model = _model(keras_module("k2"))
    tf.saved_model.save(model, str(tmp_path / "tfsave"))
    _refused(tmp_path / "tfsave", None, tmp_path, match="tf.saved_model.save.*tf2onnx")


def test_savedmodel_with_a_weights_file(saved, tmp_path):
    _refused(saved["savedmodel"][0], saved["json+ckpt"][1], tmp_path,
             match="holds its own weights")


def test_directory_that_is_not_a_savedmodel(tmp_path):
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", None, tmp_path, match="not a SavedModel")


def test_tfjs_shard_outside_its_folder(saved, tmp_path):
    path = _copy(saved["tfjs"][0], tmp_path / "js")
    doc = json.loads(path.read_text())
    doc["weightsManifest"][0]["paths"] = ["../secret.bin"]
    path.write_text(json.dumps(doc))
    _refused(path, None, tmp_path, match="plain file names")


def test_tfjs_truncated_shard(saved, tmp_path):
    path = _copy(saved["tfjs"][0], tmp_path / "js")
    shard = next(path.parent.glob("*.bin"))
    shard.write_bytes(shard.read_bytes()[:-4])
    _refused(path, None, tmp_path, match="truncated")


def test_tfjs_huge_declared_shape(saved, tmp_path):
    """A manifest declaring far more data than its shards hold is refused before reading."""
    path = _copy(saved["tfjs"][0], tmp_path / "js")
    doc = json.loads(path.read_text())
    doc["weightsManifest"][0]["weights"][0]["shape"] = [1 << 30, 1 << 30]
    path.write_text(json.dumps(doc))
    _refused(path, None, tmp_path, match="declares")


def test_without_protobuf(saved, tmp_path, monkeypatch):
    from kerasport.keras import protos

    protos._classes.cache_clear()
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    try:
        with pytest.raises(MissingExtraError, match=r"kerasport\[savedmodel\]"):
            kerasport.load(saved["savedmodel"][0])
    finally:
        protos._classes.cache_clear()


def test_cli_weights_file(saved, tmp_path, capsys):
    from kerasport.cli import main

    arch, weights = saved["json+ckpt"]
    assert main(["inspect", arch, "--weights-file", weights]) == 0
    assert "every layer is supported" in capsys.readouterr().out
    out = tmp_path / "m.npz"
    assert main(["convert", arch, "--weights-file", weights, "-o", str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    assert main(["convert", arch, "-o", str(tmp_path / "no.npz")]) == 2
    assert "--weights-file" in capsys.readouterr().err
    assert not (tmp_path / "no.npz").exists()


def test_errors_are_kerasport_errors():
    assert issubclass(WeightsError, ModelFileError)
    assert issubclass(MissingExtraError, KerasportError)


def _mutants(data: bytes, count: int, seed: int):
    """Byte-level mutants: flipped bytes, truncations, inserted and deleted runs."""
    import random

    rng = random.Random(seed)
    for _ in range(count):
        buf = bytearray(data)
        kind = rng.randrange(4)
        pos = rng.randrange(len(buf))
        if kind == 0:
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif kind == 1:
            del buf[pos:]
        elif kind == 2:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            del buf[pos:pos + rng.randint(1, 16)]
        yield bytes(buf)


@pytest.mark.parametrize("target", ["index", "metadata", "manifest"])
def test_mutated_files_fail_cleanly(saved, tmp_path, target):
    """Random damage to a checkpoint index, a keras_metadata.pb or a TF.js model.json: each
    load either works or raises a kerasport error (never another exception)."""
    arch, weights = None, None
    if target == "index":
        arch, weights = saved["json+ckpt"]
        victim = _copy(weights, tmp_path / "ck")
        path, weights = arch, str(victim)
    elif target == "metadata":
        path = _copy(saved["savedmodel"][0], tmp_path / "sm")
        victim = path / "keras_metadata.pb"
    else:
        victim = path = _copy(saved["tfjs"][0], tmp_path / "js")
    original = victim.read_bytes()
    outcomes = {"ok": 0, "refused": 0}
    for data in _mutants(original, 150, seed=len(target)):
        victim.write_bytes(data)
        try:
            kerasport.load(path, weights=weights)
            outcomes["ok"] += 1
        except KerasportError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0, outcomes
