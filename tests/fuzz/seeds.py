"""The seed corpus: small Keras 3 and tf_keras models saved as .keras and .h5, the digits
example, and kerasport bundles made from them, each with a reference input file.

The corpus is built once (in a child process: it imports TensorFlow) into a cache directory
keyed by this file, the Keras versions and the example model, and is never committed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from . import REPO_DIR, TESTS_DIR

EXAMPLE = REPO_DIR / "examples" / "digits_cnn.keras"
EXAMPLE_X = REPO_DIR / "examples" / "digits_test_x.npy"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Seed:
    """One seed file: ``kind`` is "keras", "h5" or "bundle"; ``input`` a .npy/.npz that fits."""

    name: str
    kind: str
    path: Path
    input: Path
    n_inputs: int
    n_outputs: int


def cache_root() -> Path:
    """Where corpora are cached: $KERASPORT_FUZZ_CACHE or <repo>/.fuzz-cache."""
    return Path(os.environ.get("KERASPORT_FUZZ_CACHE", REPO_DIR / ".fuzz-cache"))


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def corpus_key() -> str:
    """Hash of what the corpus depends on (this builder, Keras versions, the example)."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for dist in ("keras", "tf-keras", "tensorflow", "h5py", "numpy"):
        h.update(f"{dist}={_version(dist)};".encode())
    if EXAMPLE.exists():
        h.update(EXAMPLE.read_bytes())
    spec = importlib.util.find_spec("kerasport")  # the copy the workers will import
    package = Path(spec.origin).parent if spec and spec.origin else REPO_DIR / "src" / "kerasport"
    for src in sorted(package.rglob("*.py")):  # the bundles depend on the writer
        h.update(src.read_bytes())
    return h.hexdigest()[:16]


def _prune(root: Path, keep: Path) -> None:
    """Remove corpora of other keys not used for an hour (best effort)."""
    import time

    for old in root.glob("seeds-*"):
        if old != keep and time.time() - old.stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)


def ensure_corpus(log=print) -> list[Seed]:
    """Build the corpus if it is not cached yet (atomically: concurrent builders are fine),
    and return its seeds."""
    target = cache_root() / f"seeds-{corpus_key()}"
    if not (target / MANIFEST).exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="building-", dir=target.parent))
        log(f"fuzz: building the seed corpus in {target} (imports TensorFlow, ~1 min)")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
               "KERAS_BACKEND": "tensorflow",
               "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS_DIR),
                                                         os.environ.get("PYTHONPATH")) if p)}
        proc = subprocess.run([sys.executable, "-m", "fuzz.seeds", str(tmp)], env=env,
                              cwd=TESTS_DIR, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not (tmp / MANIFEST).exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"building the fuzz corpus failed:\n{proc.stderr[-4000:]}")
        try:
            os.rename(tmp, target)
        except OSError:  # another process built it first
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(target.parent, target)
    os.utime(target)
    return load_corpus(target)


def load_corpus(directory: Path) -> list[Seed]:
    """The seeds listed in ``directory``'s manifest."""
    entries = json.loads((directory / MANIFEST).read_text())
    return [Seed(e["name"], e["kind"], directory / e["file"], directory / e["input"],
                 e["n_inputs"], e["n_outputs"]) for e in entries]


# -- building (child process, with Keras) ----------------------------------------------------


def _models(k):
    """name -> builder of a small model with Keras module ``k``."""
    L = k.layers

    def dense():
        x = k.Input((4,), name="x")
        return k.Model(x, L.Dense(3, name="out")(L.Dense(5, activation="relu", name="h")(x)),
                       name="dense")

    def conv_bn():
        x = k.Input((8, 8, 2), name="img")
        y = L.Conv2D(3, 3, padding="same", name="conv")(x)
        y = L.BatchNormalization(name="bn")(y)
        y = L.ReLU(name="relu")(y)
        y = L.GlobalAveragePooling2D(name="gap")(y)
        return k.Model(x, L.Dense(2, activation="softmax", name="probs")(y), name="conv_bn")

    def lstm_mask():
        x = k.Input((None, 3), name="seq")
        y = L.LSTM(4, name="lstm")(L.Masking(0.0, name="mask")(x))
        return k.Model(x, L.Dense(2, name="out")(y), name="lstm_mask")

    def two_input():
        a, b = k.Input((4,), name="a"), k.Input((3,), name="b")
        h = L.Concatenate(name="cat")([L.Dense(3, name="da")(a), L.Dense(3, name="db")(b)])
        return k.Model([a, b], [L.Dense(2, name="o1")(h), L.Dense(1, name="o2")(h)],
                       name="two_input")

    def nested():
        inner = k.Sequential([k.Input((4,)), L.Dense(6, activation="tanh", name="i1"),
                              L.Dense(3, name="i2")], name="inner")
        x = k.Input((4,), name="x")
        return k.Model(x, L.Dense(2, name="head")(inner(x)), name="nested")

    return {"dense": dense, "conv_bn": conv_bn, "lstm_mask": lstm_mask,
            "two_input": two_input, "nested": nested}


def _randomize(model, rng: np.random.Generator) -> None:
    for layer in model.layers:
        if hasattr(layer, "layers"):
            _randomize(layer, rng)
            continue
        ws = layer.get_weights()
        if ws:
            layer.set_weights([(rng.uniform(0.5, 1.5, w.shape) if w.ndim == 1 and "bn" in
                                layer.name else 0.5 * rng.standard_normal(w.shape))
                               .astype(w.dtype) for w in ws])


def _inputs(model, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for t in model.inputs:
        shape = [2] + [5 if d is None else int(d) for d in tuple(t.shape)[1:]]
        x = rng.standard_normal(shape).astype(np.float32)
        if len(shape) == 3 and shape[-1] == 3:  # the masked sequence: a padded step
            x[0, -1] = 0.0
        out.append(x)
    return out


def _save_input(path: Path, names: list[str], arrays: list[np.ndarray]) -> Path:
    if len(arrays) == 1:
        path = path.with_suffix(".npy")
        np.save(path, arrays[0])
    else:
        path = path.with_suffix(".npz")
        np.savez(path, **dict(zip(names, arrays)))
    return path


def build(out: Path) -> None:
    """Write every seed and the manifest into ``out`` (needs Keras 3, tf_keras, TensorFlow)."""
    import keras
    import tf_keras

    import kerasport

    rng = np.random.default_rng(1234)
    entries = []

    def add(name: str, kind: str, path: Path, inp: Path, n_in: int, n_out: int) -> None:
        entries.append({"name": name, "kind": kind, "file": path.name, "input": inp.name,
                        "n_inputs": n_in, "n_outputs": n_out})

    for flavour, k in (("k3", keras), ("k2", tf_keras)):
        for name, builder in _models(k).items():
            model = builder()
            _randomize(model, rng)
            names = [t.name.split(":")[0] for t in model.inputs]
            inp = _save_input(out / f"{flavour}-{name}-input", names, _inputs(model, rng))
            for ext in ("keras", "h5"):
                path = out / f"{flavour}-{name}.{ext}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.save(str(path))
                add(path.name, ext, path, inp, len(model.inputs), len(model.outputs))
    shutil.copy(EXAMPLE, out / "digits_cnn.keras")
    digits_in = out / "digits_cnn-input.npy"
    np.save(digits_in, np.load(EXAMPLE_X)[:3])
    add("digits_cnn.keras", "keras", out / "digits_cnn.keras", digits_in, 1, 1)
    for entry in [e for e in entries if e["kind"] == "keras"]:
        src = out / entry["file"]
        modes = ["float32"]
        if entry["file"] in ("digits_cnn.keras", "k3-conv_bn.keras"):
            modes += ["float16", "int8"]
        for mode in modes:
            bundle = out / (src.stem + ("" if mode == "float32" else f"-{mode}") +
                            f".{src.suffix[1:]}.npz")
            try:
                kerasport.load(src).save(str(bundle), weights=mode)
            except kerasport.KerasportError as exc:  # the mutants of a seed need no bundle
                print(f"no bundle for {src.name}: {exc}", file=sys.stderr)
                continue
            add(bundle.name, "bundle", bundle, out / entry["input"], entry["n_inputs"],
                entry["n_outputs"])
    (out / MANIFEST).write_text(json.dumps(entries, indent=1))


if __name__ == "__main__":
    build(Path(sys.argv[1]))
