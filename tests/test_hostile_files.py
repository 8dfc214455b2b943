"""Hostile and malformed files, one test per class of fault (issue 12): every failure is a
kerasport error naming the file, refused before anything large is read or allocated, and a
model file never makes kerasport read another file."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from keras_models import every_format, keras_module, save

import kerasport
from kerasport import InputError, KerasportError, ModelFileError
from kerasport.cli import main

SECRET = b"TOP-SECRET-BYTES" * 16  # 256 bytes that must never reach a model


def _model(k):
    inp = k.Input((4,), name="x")
    h = k.layers.Dense(5, name="hidden", activation="relu")(inp)
    return k.Model(inp, k.layers.Dense(3, name="out")(h))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return every_format(_model, tmp_path_factory.mktemp("models"))


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def _h5_kernel_path(f: h5py.File) -> str:
    return "model_weights/hidden/" + next(
        n.decode() if isinstance(n, bytes) else n
        for n in f["model_weights/hidden"].attrs["weight_names"] if "kernel" in str(n))


def _no_secret(model) -> None:
    for arr in model.graph.constants.values():
        assert SECRET[:16] not in arr.tobytes()


# -- never read another file ----------------------------------------------------------------


@pytest.fixture()
def secret(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(SECRET * 4)
    return path


def _replace_kernel(path: Path, make) -> None:
    with h5py.File(path, "a") as f:
        where = _h5_kernel_path(f)
        shape, dtype = f[where].shape, f[where].dtype
        del f[where]
        make(f, where, shape, dtype)


@pytest.mark.parametrize("flavour", ["k2", "k3"])
def test_external_storage_refused(files, tmp_path, secret, flavour):
    path = _copy(files[f"{flavour}.h5"], tmp_path / "ext.h5")
    _replace_kernel(path, lambda f, where, shape, dtype: f.create_dataset(
        where, shape, dtype, external=[(str(secret), 0, h5py.h5f.UNLIMITED)]))
    with pytest.raises(ModelFileError, match="external file") as err:
        kerasport.load(path)
    assert str(path) in str(err.value)


def test_external_link_refused(files, tmp_path, secret):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["kernel"] = np.frombuffer(SECRET[:80], np.float32).reshape(4, 5)
    path = _copy(files["k2.h5"], tmp_path / "link.h5")
    _replace_kernel(path, lambda f, where, *_: f.__setitem__(
        where, h5py.ExternalLink(str(other), "/kernel")))
    with pytest.raises(ModelFileError, match="external link"):
        kerasport.load(path)


def test_soft_link_refused(files, tmp_path):
    path = _copy(files["k2.h5"], tmp_path / "soft.h5")
    with h5py.File(path, "a") as f:
        f["elsewhere"] = np.ones((4, 5), np.float32)
    _replace_kernel(path, lambda f, where, *_: f.__setitem__(where, h5py.SoftLink("/elsewhere")))
    with pytest.raises(ModelFileError, match="soft link"):
        kerasport.load(path)


def test_virtual_dataset_refused(files, tmp_path, secret):
    other = tmp_path / "src.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.ones((4, 5), np.float32)

    def make(f, where, shape, dtype):
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[:] = h5py.VirtualSource(str(other), "data", shape=shape)
        f.create_virtual_dataset(where, layout)

    path = _copy(files["k2.h5"], tmp_path / "vds.h5")
    _replace_kernel(path, make)
    with pytest.raises(ModelFileError, match="virtual dataset"):
        kerasport.load(path)


def test_external_storage_inside_keras_archive(files, tmp_path, secret):
    entries = _entries(files["k3.keras"])
    weights = tmp_path / "w.h5"
    weights.write_bytes(entries["model.weights.h5"])
    with h5py.File(weights, "a") as f:
        group = next(f["layers"][k]["vars"] for k in f["layers"] if "vars" in f["layers"][k]
                     and "0" in f["layers"][k]["vars"])
        shape, dtype = group["0"].shape, group["0"].dtype
        del group["0"]
        group.create_dataset("0", shape, dtype, external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
    entries["model.weights.h5"] = weights.read_bytes()
    path = tmp_path / "ext.keras"
    _write_zip(path, entries)
    with pytest.raises(ModelFileError, match="external file"):
        kerasport.load(path)


# -- sizes checked before reading or allocating ----------------------------------------------


def test_huge_declared_dataset_refused(files, tmp_path):
    # a chunked dataset declaring 2 GiB with no chunk written: a few KB on disk
    path = _copy(files["k2.h5"], tmp_path / "huge.h5")
    _replace_kernel(path, lambda f, where, shape, dtype: f.create_dataset(
        where, (1 << 15, 1 << 14), "float32", chunks=(64, 64)))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ModelFileError, match="budget"):
        kerasport.load(path)


def test_npy_header_declaring_2_pow_40_elements(tmp_path):
    m = kerasport.load(Path(__file__).parent.parent / "examples" / "digits_cnn.keras")
    bundle = tmp_path / "m.npz"
    m.save(str(bundle))
    entries = _entries(bundle)
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }"
    header = header + b" " * (118 - len(header)) + b"\n"
    entries["c0.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    _write_zip(bundle, entries)
    with pytest.raises(ModelFileError, match="declares"):
        kerasport.load(bundle)


def test_huge_input_dimension(files, tmp_path):
    path = tmp_path / "wide.keras"
    _edit_config(files["k3.keras"], path, lambda c: _set_input_shape(c, [None, 1 << 30]))
    with pytest.raises(KerasportError):
        kerasport.load(path).make_reference()


def test_config_asking_for_a_huge_output(tmp_path):
    k = keras_module("k3")
    inp = k.Input((4,), name="x")
    model = k.Model(inp, k.layers.RepeatVector(2, name="rep")(k.layers.Dense(3)(inp)))
    src = save(model, tmp_path / "rep.keras")
    path = tmp_path / "huge.keras"

    def edit(c):
        next(layer for layer in c["config"]["layers"] if layer["name"] == "rep")[
            "config"]["n"] = 1 << 40

    _edit_config(src, path, edit)
    with pytest.raises(ModelFileError, match="per sample"):
        kerasport.load(path)


# -- zip and compression failures ---------------------------------------------------------------


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_zip(path: Path, entries: dict[str, bytes], method=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for n, data in entries.items():
            zf.writestr(n, data)


def _patch_local_headers(path: Path, offset: int, value: bytes) -> None:
    """Overwrite ``value`` at ``offset`` of every local and central header."""
    data = bytearray(path.read_bytes())
    for sig, base in ((b"PK\x03\x04", 0), (b"PK\x01\x02", 2)):
        i = data.find(sig)
        while i >= 0:
            data[i + base + offset:i + base + offset + len(value)] = value
            i = data.find(sig, i + 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("fault", ["encrypted", "lzma", "bzip2", "bad-deflate", "bad-crc",
                                   "non-utf8-name", "duplicate"])
def test_zip_faults(files, tmp_path, fault):
    path = tmp_path / f"{fault}.keras"
    entries = _entries(files["k3.keras"])
    if fault == "lzma":
        _write_zip(path, entries, zipfile.ZIP_LZMA)
    elif fault == "bzip2":
        _write_zip(path, entries, zipfile.ZIP_BZIP2)
    elif fault == "encrypted":
        _write_zip(path, entries)
        _patch_local_headers(path, 6, b"\x01\x00")  # general purpose flag: encrypted
    elif fault in ("bad-deflate", "bad-crc"):
        _write_zip(path, entries, zipfile.ZIP_DEFLATED)
        data = bytearray(path.read_bytes())
        if fault == "bad-crc":
            _patch_local_headers(path, 14, b"\xde\xad\xbe\xef")
        else:
            start = data.find(b"PK\x03\x04") + 30 + len("config.json")
            data[start:start + 8] = b"\xff" * 8
            path.write_bytes(bytes(data))
    elif fault == "non-utf8-name":
        _write_zip(path, {**entries, "caf\u00e9.txt": b"x"})
        data = path.read_bytes().replace("caf\u00e9".encode(), b"caf\xff\xfe")
        path.write_bytes(data)
        _patch_local_headers(path, 6, b"\x00\x08")  # flag: names are UTF-8
    else:
        with zipfile.ZipFile(path, "w") as zf:
            for n, data in entries.items():
                zf.writestr(n, data)
            with pytest.warns(UserWarning):
                zf.writestr("config.json", b"{}")
    with pytest.raises(ModelFileError) as err:
        kerasport.load(path)
    assert str(path) in str(err.value)


# -- JSON configs of the wrong shape ---------------------------------------------------------------


def _edit_config(src: Path, dst: Path, edit, entry: str = "config.json") -> None:
    entries = _entries(src)
    value = json.loads(entries[entry])
    new = edit(value)
    entries[entry] = new if isinstance(new, bytes) else json.dumps(
        value if new is None else new).encode()
    _write_zip(dst, entries)


def _set_input_shape(config, shape):
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = shape


def _history(config, value):
    for layer in config["config"]["layers"]:
        for node in layer.get("inbound_nodes", []):
            node["args"][0]["config"]["keras_history"] = value


def _inbound(config, layer_name, history):
    for layer in config["config"]["layers"]:
        if layer["name"] == layer_name:
            layer["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = history


CONFIG_EDITS = {
    "config-null": lambda c: b"null",
    "config-list": lambda c: b"[]",
    "config-string": lambda c: b'"model"',
    "history-nan": lambda c: _history(c, ["x", math.nan, 0]),
    "history-inf": lambda c: _history(c, ["x", 0, math.inf]),
    "history-strings": lambda c: _history(c, ["x", "a", "b"]),
    "history-list": lambda c: _history(c, [["x"], 0, 0]),
    "history-short": lambda c: _history(c, ["x"]),
    "history-negative": lambda c: _history(c, ["x", -1, 0]),
    "batch-shape-dict": lambda c: _set_input_shape(c, {}),
    "batch-shape-strings": lambda c: _set_input_shape(c, ["a", "b"]),
    "batch-shape-huge": lambda c: _set_input_shape(c, [None, 1 << 62]),
    "module-list": lambda c: c["config"]["layers"][1].__setitem__("module", ["keras"]),
    "name-list": lambda c: c["config"]["layers"][1].__setitem__("name", ["hidden"]),
    "layers-dict": lambda c: c["config"].__setitem__("layers", {}),
    "layer-null": lambda c: c["config"]["layers"].__setitem__(1, None),
    "inbound-dict": lambda c: c["config"]["layers"][1].__setitem__("inbound_nodes", {}),
    "units-string": lambda c: c["config"]["layers"][1]["config"].__setitem__("units", "five"),
    "cycle": lambda c: _inbound(c, "hidden", ["hidden", 0, 0]),
    "output-index": lambda c: c["config"].__setitem__("output_layers", [["out", 0, 7]]),
    "unknown-layer": lambda c: c["config"].__setitem__("output_layers", [["nope", 0, 0]]),
    "deep-nesting": lambda c: ("[" * 100_000 + "]" * 100_000).encode(),
    "not-utf8": lambda c: b'{"class_name": "\xff\xfe"}',
}


@pytest.mark.parametrize("edit", list(CONFIG_EDITS))
def test_malformed_keras_config(files, tmp_path, edit):
    path = tmp_path / f"{edit}.keras"
    _edit_config(files["k3.keras"], path, CONFIG_EDITS[edit])
    with pytest.raises(KerasportError) as err:
        kerasport.load(path)
    assert str(path) in str(err.value) or "'hidden'" in str(err.value)
    assert main(["inspect", str(path)]) in (1, 2)


def test_malformed_metadata(files, tmp_path):
    for value in (b"null", b"[]", b"3"):
        path = tmp_path / "meta.keras"
        _edit_config(files["k3.keras"], path, lambda c, v=value: v, entry="metadata.json")
        with pytest.raises(ModelFileError, match="metadata.json"):
            kerasport.load(path)


@pytest.mark.parametrize("value", [b"\xff\xfe not utf-8", np.arange(4.0), "[1, 2",
                                   json.dumps({"class_name": "Sequential", "config": 3})])
def test_malformed_h5_model_config(files, tmp_path, value):
    path = _copy(files["k2.h5"], tmp_path / "bad.h5")
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = value
    with pytest.raises(ModelFileError) as err:
        kerasport.load(path)
    assert str(path) in str(err.value)


def test_h5_weight_names_of_wrong_type(files, tmp_path):
    path = _copy(files["k2.h5"], tmp_path / "names.h5")
    with h5py.File(path, "a") as f:
        f["model_weights/hidden"].attrs["weight_names"] = 3.5
    with pytest.raises(ModelFileError, match="weight_names"):
        kerasport.load(path)


# -- files that are something else ---------------------------------------------------------


def test_git_lfs_pointer(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64
                    + "\nsize 123456\n")
    with pytest.raises(ModelFileError, match="Git LFS pointer.*git lfs pull"):
        kerasport.load(path)


def test_pytorch_checkpoint(tmp_path):
    path = tmp_path / "model.keras"
    _write_zip(path, {"archive/data.pkl": b"\x80\x02}q\x00.", "archive/version": b"3\n"})
    with pytest.raises(ModelFileError, match="PyTorch checkpoint"):
        kerasport.load(path)


def test_weights_only_h5_says_so(tmp_path):
    model = _model(keras_module("k2"))
    path = tmp_path / "w.h5"
    model.save_weights(str(path))
    with pytest.raises(ModelFileError, match="weights only"):
        kerasport.load(path)


# -- bundles are validated ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    m = kerasport.load(Path(__file__).parent.parent / "examples" / "digits_cnn.keras")
    path = tmp_path_factory.mktemp("bundle") / "m.npz"
    m.save(str(path))
    return path


def _edit_bundle(src: Path, dst: Path, edit) -> None:
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(arrays["__kerasport__"].tobytes())
    edit(header, arrays)
    arrays["__kerasport__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(dst, **arrays)


def _node(h, i=0):
    return h["graph"]["nodes"][i]


BUNDLE_EDITS = {
    "graph-null": lambda h, a: h.__setitem__("graph", None),
    "nodes-dict": lambda h, a: h["graph"].__setitem__("nodes", {}),
    "unknown-op": lambda h, a: _node(h).__setitem__("op", "Evil"),
    "op-list": lambda h, a: _node(h).__setitem__("op", ["Conv"]),
    "unknown-attr": lambda h, a: _node(h)["attrs"].__setitem__("evil", 1),
    "attrs-list": lambda h, a: _node(h).__setitem__("attrs", []),
    "axis-string": lambda h, a: h["graph"]["nodes"][-1]["attrs"].__setitem__("axis", "x"),
    "undefined-input": lambda h, a: _node(h)["inputs"].__setitem__(0, "ghost"),
    "cycle": lambda h, a: _node(h)["inputs"].__setitem__(0, _node(h, 1)["outputs"][0]),
    "output-missing": lambda h, a: h["graph"].__setitem__("outputs", ["ghost"]),
    "too-many-inputs": lambda h, a: _node(h)["inputs"].extend(["image"] * 20),
    "dtype": lambda h, a: h["graph"]["values"][0].__setitem__("dtype", "object"),
    "shape-negative": lambda h, a: h["graph"]["values"][0].__setitem__("shape", [None, -3]),
    "weight-shape": lambda h, a: a.__setitem__("c0", np.zeros((2, 2), np.float32)),
    "weight-missing": lambda h, a: a.pop("c0"),
    "constant-order": lambda h, a: h.__setitem__("constant_order", 7),
    "structure": lambda h, a: h["graph"].__setitem__("output_structure", "tree"),
    "weights-mode": lambda h, a: h.__setitem__("weights", "int3"),
    "n-reference": lambda h, a: h.__setitem__("n_reference", 5),
    "reference-shape": lambda h, a: a.__setitem__("ref_in0", np.zeros((2, 3), np.float32)),
    "scale": lambda h, a: a.__setitem__("s0", np.ones(3, np.float32)),
    "object-array": lambda h, a: a.__setitem__("c1", np.array([{"a": 1}], dtype=object)),
    "version": lambda h, a: h.__setitem__("version", 99),
    "attr-changes-shape": lambda h, a: next(
        n for n in h["graph"]["nodes"] if n["op"] == "Pool")["attrs"].__setitem__(
        "strides", [1, 1]),
    "attr-bad-type": lambda h, a: next(
        n for n in h["graph"]["nodes"] if n["op"] == "Pool")["attrs"].__setitem__(
        "pool_size", "big"),
    "meta-list": lambda h, a: h.__setitem__("meta", []),
}


@pytest.mark.parametrize("edit", list(BUNDLE_EDITS))
def test_malformed_bundle(bundle, tmp_path, edit):
    path = tmp_path / f"{edit}.npz"
    if edit == "object-array":
        with np.load(bundle, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["c1"] = np.array([{"a": 1}], dtype=object)
        np.savez(path, **arrays)
    else:
        _edit_bundle(bundle, path, BUNDLE_EDITS[edit])
    with pytest.raises(ModelFileError) as err:
        kerasport.load(path)
    assert str(path) in str(err.value)
    assert main(["verify", str(path)]) == 2


# -- predict inputs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return kerasport.load(Path(__file__).parent.parent / "examples" / "digits_cnn.keras")


@pytest.mark.parametrize("x", [[[1, 2], [3]], [np.zeros((1, 8, 8, 1)), "a"], object(),
                               np.array([None, 1], dtype=object)])
def test_predict_bad_arrays(digits, x):
    with pytest.raises(InputError):
        digits.predict(x)


@pytest.mark.parametrize("bs", [math.nan, 0, -1, "8", 2.5, True])
def test_predict_bad_batch_size(digits, bs):
    with pytest.raises(InputError, match="batch_size"):
        digits.predict(np.zeros((3, 8, 8, 1), np.float32), batch_size=bs)


@pytest.mark.parametrize("content", ["truncated", "object", "not-zip-npz", "empty-npz",
                                     "huge-header"])
def test_cli_predict_bad_input_file(tmp_path, capsys, content):
    x = np.zeros((2, 8, 8, 1), np.float32)
    if content == "truncated":
        path = tmp_path / "x.npy"
        np.save(path, x)
        path.write_bytes(path.read_bytes()[:-40])
    elif content == "object":
        path = tmp_path / "x.npy"
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif content == "not-zip-npz":
        path = tmp_path / "x.npz"
        path.write_bytes(b"not a zip at all")
    elif content == "empty-npz":
        path = tmp_path / "x.npz"
        np.savez(path)
    else:
        path = tmp_path / "x.npy"
        header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }"
        path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    model = Path(__file__).parent.parent / "examples" / "digits_cnn.keras"
    out = tmp_path / "y.npz"
    assert main(["predict", str(model), "--input", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and str(path) in err
    assert not out.exists()


# -- outputs: atomic, complete, ordinary permissions --------------------------------------


def test_convert_leaves_nothing_when_the_check_fails(tmp_path, monkeypatch, capsys):
    model = Path(__file__).parent.parent / "examples" / "digits_cnn.keras"
    out = tmp_path / "out" / "m.npz"
    out.parent.mkdir()

    def fail(self, tolerance=1e-4):
        raise kerasport.VerificationError("drifted")

    monkeypatch.setattr(kerasport.Model, "verify", fail)
    assert main(["convert", str(model), "-o", str(out)]) == 2
    captured = capsys.readouterr()
    assert "wrote" not in captured.out and "drifted" in captured.err
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("target", ["bundle", "python", "predict"])
def test_outputs_have_ordinary_permissions(tmp_path, target):
    model = Path(__file__).parent.parent / "examples" / "digits_cnn.keras"
    old = os.umask(0o022)
    try:
        if target == "bundle":
            assert main(["convert", str(model), "-o", str(tmp_path / "m.npz")]) == 0
        elif target == "python":
            assert main(["convert", str(model), "--to", "python", "-o",
                         str(tmp_path / "py")]) == 0
        else:
            np.save(tmp_path / "x.npy", np.zeros((2, 8, 8, 1), np.float32))
            assert main(["predict", str(model), "-i", str(tmp_path / "x.npy"), "-o",
                         str(tmp_path / "y.npz")]) == 0
    finally:
        os.umask(old)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "x.npy"]
    assert written
    for p in written:
        assert p.stat().st_mode & 0o777 == 0o644, p
    assert not [p for p in tmp_path.rglob(".kerasport-*")]


def test_cli_internal_error_is_one_line(tmp_path, monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(kerasport, "load", boom)
    assert main(["verify", "whatever.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: internal error ZeroDivisionError") and err.count("\n") == 1
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "verify", "whatever.npz"])


def test_op_count_is_bounded(files, monkeypatch):
    # nested models calling nested models multiply: the walk stops at a fixed op count
    monkeypatch.setattr("kerasport.ir.builder.MAX_NODES", 2)
    with pytest.raises(ModelFileError, match="expands to more than 2 ops"):
        kerasport.load(files["k3.keras"])


def test_not_a_regular_file_and_bundle_inspect(tmp_path, bundle, capsys):
    fifo = tmp_path / "pipe.keras"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        kerasport.load(fifo)
    assert main(["inspect", str(bundle)]) == 2
    assert "bundle" in capsys.readouterr().err
