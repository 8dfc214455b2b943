"""Bad input gets a clear error and loses nothing: files that are not Keras models, corrupt or
truncated files, unsafe archives, weights that do not fit, unsupported layers (one error listing
all of them, raised before anything is written), Lambda code that is never executed, and wrong
inputs at predict time."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from keras_models import every_format, keras_module, randomize, save

import kerasport
from kerasport import (
    InputError,
    KerasportError,
    ModelFileError,
    UnsupportedLayerError,
    WeightsError,
)
from kerasport.cli import main
from kerasport.keras.registry import CONVERTERS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODEL = EXAMPLES / "digits_cnn.keras"


def small_model(k):
    inp = k.Input((4,), name="x")
    return k.Model(inp, k.layers.Dense(3, name="out")(k.layers.Dense(5, name="hidden")(inp)))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small model saved in every format."""
    return every_format(small_model, tmp_path_factory.mktemp("models"))


# -- not a Keras file ----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"hello, I am text\n", os.urandom(256), b""],
                         ids=["text", "random", "empty"])
def test_not_a_model(tmp_path, content, capsys):
    path = tmp_path / "model.keras"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        kerasport.load(path)
    assert main(["inspect", str(path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        kerasport.load(tmp_path / "nope.keras")
    with pytest.raises(ModelFileError, match="is a directory"):
        kerasport.load(tmp_path)


def test_zip_without_config_and_foreign_npz(tmp_path):
    path = tmp_path / "a.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="without config.json"):
        kerasport.load(path)
    npz = tmp_path / "b.npz"
    np.savez(npz, a=np.zeros(3))
    with pytest.raises(ModelFileError):
        kerasport.load(npz)


# -- truncated / corrupt ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["k3.keras", "k3.h5", "k2.h5"])
def test_truncated(files, fmt, tmp_path):
    data = files[fmt].read_bytes()
    path = tmp_path / f"cut.{fmt.split('.')[1]}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupt|truncated|not a readable"):
        kerasport.load(path)


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))


def test_corrupt_weights_entry(files, tmp_path):
    path = tmp_path / "bad.keras"
    _rewrite(files["k3.keras"], path, {"model.weights.h5": os.urandom(4096)})
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        kerasport.load(path)


def test_config_not_json(files, tmp_path):
    path = tmp_path / "bad.keras"
    _rewrite(files["k3.keras"], path, {"config.json": b"{not json"})
    with pytest.raises(ModelFileError, match="config.json is not valid JSON"):
        kerasport.load(path)


# -- unsafe archives ---------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["../evil.txt", "/abs.txt", "a/../../evil.txt"])
def test_path_traversal_refused(files, tmp_path, entry):
    path = tmp_path / "evil.keras"
    _rewrite(files["k3.keras"], path, {})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(entry, "x")
    with pytest.raises(ModelFileError, match="unsafe path"):
        kerasport.load(path)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_absurd_sizes_refused(files, monkeypatch):
    monkeypatch.setattr("kerasport.io.HARD_LIMIT_BYTES", 1000)
    with pytest.raises(ModelFileError, match="over the budget"):
        kerasport.load(files["k3.keras"])


def test_zip_bomb_refused(tmp_path):
    # 300 MB of zeros in a 300 KB archive: over the budget (64x the file, at least 256 MB)
    # before a byte is decompressed
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}")
        with zf.open("model.weights.h5", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                f.write(block)
    with pytest.raises(ModelFileError, match="zip bomb"):
        kerasport.load(path)


# -- weights -----------------------------------------------------------------------------------


def test_missing_weights_h5(files, tmp_path):
    path = tmp_path / "missing.h5"
    path.write_bytes(files["k2.h5"].read_bytes())
    with h5py.File(path, "a") as f:
        group = f["model_weights/hidden"]
        for name in list(group.attrs["weight_names"]):
            del group[name.decode() if isinstance(name, bytes) else name]
    with pytest.raises(WeightsError, match="hidden"):
        kerasport.load(path)


def test_weights_shape_mismatch(files, tmp_path):
    path = tmp_path / "mismatch.keras"
    with zipfile.ZipFile(files["k3.keras"]) as zf:
        config = zf.read("config.json").decode().replace('"units": 5', '"units": 6')
    _rewrite(files["k3.keras"], path, {"config.json": config.encode()})
    with pytest.raises(WeightsError, match=r"hidden.*\(4, 5\).*\(4, 6\)"):
        kerasport.load(path)


def test_weights_only_h5(tmp_path):
    k = keras_module("k3")
    model = small_model(k)
    model.save_weights(str(tmp_path / "w.weights.h5"))
    with pytest.raises(ModelFileError, match="no model config"):
        kerasport.load(tmp_path / "w.weights.h5")


# -- unsupported layers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def unsupported_file(tmp_path_factory):
    k = keras_module("k3")

    @k.saving.register_keras_serializable(package="tests")
    class MyScale(k.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), name="w")

        def call(self, x):
            return x * self.w

    inp = k.Input((8, 8, 3))
    x = k.layers.Conv2D(4, 3, data_format="channels_first", name="cf_conv")(inp)
    x = k.layers.Lambda(lambda t: t * 2.0, name="doubler")(x)
    x = k.layers.Reshape((4, 6))(x)
    x = k.layers.ReversibleEmbedding(10, 2, name="bins")(x)  # a class with no converter
    x = MyScale(name="my_scale")(x)
    model = k.Model(inp, x)
    randomize(model)
    path = tmp_path_factory.mktemp("unsup") / "unsupported.keras"
    save(model, path)
    return path, model


def test_one_error_lists_every_unsupported_layer(unsupported_file):
    path, _ = unsupported_file
    with pytest.raises(UnsupportedLayerError) as info:
        kerasport.load(path)
    issues = {i.layer: i for i in info.value.issues}
    assert set(issues) == {"cf_conv", "doubler", "bins", "my_scale"}, issues
    assert issues["cf_conv"].key == "data_format" and issues["cf_conv"].class_name == "Conv2D"
    assert "never executes code" in issues["doubler"].reason
    assert "register_converter" in issues["doubler"].hint
    assert "register_converter('tests>MyScale')" in issues["my_scale"].hint
    assert issues["bins"].class_name == "ReversibleEmbedding"
    text = str(info.value)
    assert text.startswith("4 layers cannot be converted")


def model_input_name(path: Path) -> str:
    return kerasport.inspect_file(path).rows[0].name


def test_inspect_and_convert_with_unsupported_layers(unsupported_file, tmp_path, capsys):
    path, _ = unsupported_file
    rows = {r.name: r for r in kerasport.inspect_file(path).rows}
    assert not rows["bins"].supported and not rows["doubler"].supported
    assert rows[model_input_name(path)].supported
    assert main(["inspect", str(path)]) == 1
    out = capsys.readouterr().out
    assert "NO" in out and "doubler" in out and "cannot be converted" in out
    target = tmp_path / "out.npz"
    assert main(["convert", str(path), "-o", str(target)]) == 2
    assert not target.exists()
    target.write_bytes(b"precious")
    assert main(["convert", str(path), "-o", str(target)]) == 2
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_lambda_code_is_never_executed(tmp_path):
    k = keras_module("k3")
    marker = tmp_path / "executed"

    def touch(t):
        marker.write_text("ran")
        return t

    inp = k.Input((3,))
    model = k.Model(inp, k.layers.Lambda(touch)(inp))
    path = save(model, tmp_path / "lambda.keras")
    marker.unlink()
    with pytest.raises(UnsupportedLayerError, match="never executes code"):
        kerasport.load(path)
    assert not marker.exists()


def test_keras2_lambda(tmp_path):
    k = keras_module("k2")
    inp = k.Input((3,))
    model = k.Model(inp, k.layers.Lambda(lambda t: t + 1.0, name="plus_one")(inp))
    path = save(model, tmp_path / "lambda.h5")
    with pytest.raises(UnsupportedLayerError, match="plus_one"):
        kerasport.load(path)


@pytest.fixture
def registered():
    added = []

    def register(*names, **kwargs):
        added.extend(names)
        return kerasport.register_converter(*names, **kwargs)

    yield register
    for name in added:
        CONVERTERS.pop(name, None)


def test_register_converter(registered, tmp_path):
    k = keras_module("k3")

    @k.saving.register_keras_serializable(package="tests2")
    class Scale(k.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), name="w")

        def call(self, x):
            return x * self.w

    inp = k.Input((5,))
    model = k.Model(inp, Scale(name="scale")(k.layers.Dense(5)(inp)))
    randomize(model)
    path = save(model, tmp_path / "custom.keras")

    @registered("tests2>Scale")
    def convert_scale(ctx, inputs):
        (w,) = ctx.weights_as(["w"])
        return [ctx.op("Mul", [inputs[0], ctx.const("w", w)])]

    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(kerasport.load(path).predict(x), np.asarray(model(x)),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(KerasportError, match="already registered"):
        kerasport.register_converter("tests2>Scale")(convert_scale)
    kerasport.register_converter("tests2>Scale", replace=True)(convert_scale)


# -- predict-time input errors ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
    k = keras_module("k3")
    a, b = k.Input((4,), name="a"), k.Input((3, 2), name="b")
    y = k.layers.Concatenate()([a, k.layers.Flatten()(b)])
    model = k.Model([a, b], k.layers.Dense(2)(y))
    randomize(model)
    return kerasport.load(save(model, tmp_path_factory.mktemp("two") / "two.keras")), model


def test_wrong_number_of_inputs(two_inputs):
    m, _ = two_inputs
    with pytest.raises(InputError, match="takes 2 inputs"):
        m.predict([np.zeros((1, 4), np.float32)])


def test_single_example_without_batch_axis():
    m = kerasport.load(MODEL)
    with pytest.raises(InputError, match=r"add the batch axis"):
        m.predict(np.zeros((8, 8, 1), np.float32))


def test_wrong_fixed_dim_names_input_and_shape(two_inputs):
    m, _ = two_inputs
    with pytest.raises(InputError, match=r"input 'b' expects shape \(None, 3, 2\)"):
        m.predict([np.zeros((1, 4)), np.zeros((1, 3, 5))])


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.array([[object()]], dtype=object)],
                         ids=["strings", "objects"])
def test_non_numeric_dtype(bad):
    m = kerasport.load(MODEL)
    with pytest.raises(InputError, match="not numeric"):
        m.predict(bad)


def test_dict_inputs(two_inputs):
    m, model = two_inputs
    a, b = np.ones((2, 4), np.float32), np.ones((2, 3, 2), np.float32)
    np.testing.assert_allclose(m.predict({"a": a, "b": b}), np.asarray(model([a, b])),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="missing"):
        m.predict({"a": a})
    with pytest.raises(InputError, match="unknown"):
        m.predict({"a": a, "b": b, "c": b})


def test_nan_passes_through_like_keras(files):
    k = keras_module("k3")
    model = small_model(k)
    randomize(model)
    x = np.ones((3, 4), np.float32)
    x[1, 2] = np.nan
    want = np.asarray(model(x))
    path = save(model, Path(files["k3.keras"]).parent / "nan.keras")
    got = kerasport.load(path).predict(x)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-5, atol=1e-6)


def test_integer_input_accepted_and_bad_batch_size():
    m = kerasport.load(MODEL)
    x = np.ones((2, 8, 8, 1), np.int64)
    np.testing.assert_allclose(m.predict(x), m.predict(x.astype(np.float32)))
    with pytest.raises(InputError, match="batch_size"):
        m.predict(x, batch_size=0)


# -- outputs are written atomically ----------------------------------------------------------


def test_failed_save_leaves_nothing(monkeypatch, tmp_path):
    m = kerasport.load(MODEL)
    target = tmp_path / "m.npz"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        m.save(str(target))
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(OSError):
        m.save(str(target))
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


# -- bundles -------------------------------------------------------------------------------------


def _bundle_entries(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_bundle_with_pickled_array_is_refused(tmp_path):
    m = kerasport.load(MODEL)
    path = tmp_path / "m.npz"
    m.save(str(path))
    entries = _bundle_entries(path)
    entries["c0"] = np.array([{"evil": 1}], dtype=object)
    np.savez(path, **entries)
    with pytest.raises(ModelFileError):
        kerasport.load(path)


def test_bundle_with_corrupt_graph(tmp_path):
    m = kerasport.load(MODEL)
    path = tmp_path / "m.npz"
    m.save(str(path))
    entries = _bundle_entries(path)
    entries["__kerasport__"] = np.frombuffer(b'{"format": "kerasport-bundle", "vers',
                                             dtype=np.uint8)
    np.savez(path, **entries)
    with pytest.raises(ModelFileError, match="corrupt"):
        kerasport.load(path)


def test_verify_detects_tampered_weights(tmp_path, capsys):
    m = kerasport.load(MODEL)
    path = tmp_path / "m.npz"
    m.save(str(path))
    assert main(["verify", str(path)]) == 0
    entries = _bundle_entries(path)
    entries["c0"] = entries["c0"] + 0.5
    buf = io.BytesIO()
    np.savez(buf, **entries)
    path.write_bytes(buf.getvalue())
    assert main(["verify", str(path)]) == 1
    assert "FAILED" in capsys.readouterr().out


# -- TensorFlow is never imported ----------------------------------------------------------------


def test_no_tensorflow_import(files, tmp_path):
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax', 'torch'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import numpy as np, kerasport
for p in {[str(p) for p in files.values()]!r}:
    m = kerasport.load(p)
    y = m.predict(np.ones((2, 4), np.float32))
    m.save({str(tmp_path / 'b.npz')!r})
    kerasport.load({str(tmp_path / 'b.npz')!r}).verify()
kerasport.load({str(MODEL)!r})
assert not any(k.split('.')[0] in ('tensorflow', 'keras', 'tf_keras') for k in sys.modules)
print('ok')
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("make", [
    lambda k: k.layers.Resizing(4, 4, interpolation="bicubic"),
    lambda k: k.layers.UpSampling2D(2, interpolation="bicubic"),
    lambda k: k.layers.MaxPooling2D(data_format="channels_first"),
    lambda k: k.layers.GroupNormalization(2, axis=1),
], ids=["resizing-bicubic", "upsampling-bicubic", "pool-channels-first", "groupnorm-axis1"])
def test_unsupported_vision_options(make, tmp_path):
    k = keras_module("k3")
    inp = k.Input((8, 8, 4))
    model = k.Model(inp, make(k)(inp))
    with pytest.raises(UnsupportedLayerError) as info:
        kerasport.load(save(model, tmp_path / "m.keras"))
    (issue,) = info.value.issues
    assert issue.key in ("interpolation", "data_format", "axis") and issue.hint
