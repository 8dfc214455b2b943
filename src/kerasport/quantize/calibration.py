"""Calibration (representative) data for static quantization: .npy / .npz files, a folder of
images, or a Python file defining ``get_dataset()``, checked against the model's inputs."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from kerasport.errors import InputError


def load_calibration(path: str, model: Any, limit: int | None = None,
                     images: ImageOptions | None = None) -> list[np.ndarray]:
    """Arrays for each model input (batch first) from ``path``: a .npy (one input) or a .npz
    keyed by input name (or holding exactly as many arrays as the model has inputs), a folder
    of images (resized to the input, scaled by ``images``) or a .py file whose
    ``get_dataset()`` yields samples."""
    if not os.path.exists(path):
        raise InputError(f"calibration data {path}: no such file")
    names = model.input_names
    if os.path.isdir(path):
        arrays = load_image_folder(path, model, images or ImageOptions(), limit)
    elif path.endswith(".py"):
        arrays = load_python_dataset(path, model, limit)
    elif path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            found = {k: data[k] for k in data.files}
        if set(names) <= set(found):
            arrays = [found[n] for n in names]
        elif len(found) == len(names):
            arrays = [found[k] for k in sorted(found)]
        else:
            raise InputError(f"calibration data {path} holds {sorted(found)}; the model's "
                             f"inputs are {names}")
    elif path.endswith(".npy"):
        if len(names) != 1:
            raise InputError(f"the model has {len(names)} inputs: give calibration data as a "
                             ".npz keyed by input name")
        arrays = [np.load(path, allow_pickle=False)]
    else:
        raise InputError(f"calibration data {path}: expected a .npy or .npz file, a folder "
                         "of images or a .py file defining get_dataset()")
    checked = [model._check(n, a) for n, a in zip(names, arrays)]
    if not checked[0].shape[0]:
        raise InputError(f"calibration data {path} is empty")
    if limit:
        checked = [a[:limit] for a in checked]
    return checked


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                    ".ppm", ".pgm")
MAX_DATASET_SAMPLES = 10_000  # get_dataset() may be endless: stop here when no limit is set


class Progress:
    """A plain progress line on stderr (``label: i/n``), shown only for runs longer than a
    second and refreshed at most twice a second."""

    def __init__(self, total: int | None, label: str, stream: IO[str] | None = None):
        self.total, self.label = total, label
        self.stream = stream
        self.start = self.last = time.perf_counter()
        self.shown = False

    def update(self, done: int) -> None:
        """Report ``done`` items finished."""
        now = time.perf_counter()
        if now - self.start < 1.0 or now - self.last < 0.5:
            return
        self.last, self.shown = now, True
        of = f"/{self.total}" if self.total else ""
        stream = self.stream or sys.stderr
        stream.write(f"\r{self.label}: {done}{of}")
        stream.flush()

    def done(self) -> None:
        """End the line if one was shown."""
        if self.shown:
            stream = self.stream or sys.stderr
            stream.write(f" ({time.perf_counter() - self.start:.1f} s)\n")
            stream.flush()


@dataclass(frozen=True)
class ImageOptions:
    """How image pixels (0..255) become model inputs: ``(pixel * scale - mean) / std``;
    ``mean`` and ``std`` are one value or one per channel."""

    scale: float = 1.0 / 255.0
    mean: Sequence[float] = (0.0,)
    std: Sequence[float] = (1.0,)


def load_image_folder(path: str, model: Any, options: ImageOptions,
                      limit: int | None = None) -> list[np.ndarray]:
    """Every image in the folder ``path`` (sorted by name), resized to the model's single
    (batch, height, width, channels) input with 1, 3 or 4 channels."""
    if len(model.input_names) != 1:
        raise InputError(f"a folder of images calibrates a model with one image input; this "
                         f"model has {len(model.input_names)} inputs (use a .npz)")
    shape = model.input_shapes[0]
    if len(shape) != 4 or shape[3] not in (1, 3, 4):
        raise InputError(f"a folder of images needs an image input (batch, height, width, 1/3/4 "
                         f"channels); the model's input has shape {shape}")
    try:
        from PIL import Image
    except ImportError as exc:
        from kerasport.errors import MissingExtraError

        raise MissingExtraError("reading calibration images needs Pillow: "
                                "pip install 'kerasport[tflite]'") from exc
    files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise InputError(f"calibration folder {path} holds no images (looked for "
                         f"{', '.join(IMAGE_EXTENSIONS)})")
    files = files[:limit] if limit else files
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[shape[3]]
    progress = Progress(len(files), "reading calibration images")
    out = []
    for i, name in enumerate(files):
        file = os.path.join(path, name)
        try:
            with Image.open(file) as img:
                img = img.convert(mode)
                size = (shape[2] or img.width, shape[1] or img.height)
                arr = np.asarray(img.resize(size, Image.BILINEAR), dtype=np.float32)
        except (OSError, ValueError) as exc:
            raise InputError(f"calibration image {file} cannot be read: {exc}") from exc
        out.append(arr.reshape(arr.shape[0], arr.shape[1], shape[3]))
        progress.update(i + 1)
    progress.done()
    if len({a.shape for a in out}) > 1:
        raise InputError(f"images in {path} have different sizes and the model's input has "
                         "free height/width: resize them first")
    mean = np.asarray(options.mean, dtype=np.float32)
    std = np.asarray(options.std, dtype=np.float32)
    for what, v in (("mean", mean), ("std", std)):
        if v.size not in (1, shape[3]):
            raise InputError(f"--{what} needs 1 or {shape[3]} values, got {v.size}")
    if np.any(std == 0):
        raise InputError("--std must not be 0")
    return [((np.stack(out) * options.scale - mean) / std).astype(np.float32)]


def _sample_arrays(sample: Any, names: list[str], ranks: list[int]) -> list[np.ndarray]:
    if isinstance(sample, dict):
        missing = [n for n in names if n not in sample]
        if missing:
            raise InputError(f"a get_dataset() sample lacks inputs {missing}; the model's "
                             f"inputs are {names}")
        items = [sample[n] for n in names]
    elif isinstance(sample, (list, tuple)):
        items = list(sample)
        if len(names) == 1 and len(items) == 2 and np.ndim(items[0]) >= ranks[0] - 1 > 0:
            items = items[:1]  # an (x, label) pair
        if len(items) != len(names):
            raise InputError(f"a get_dataset() sample holds {len(items)} arrays; the model has "
                             f"{len(names)} inputs ({', '.join(names)})")
    else:
        items = [sample]
    out = []
    for item, rank, name in zip(items, ranks, names):
        arr = np.asarray(item)
        if arr.ndim == rank - 1:
            arr = arr[None]
        if arr.ndim != rank:
            raise InputError(f"a get_dataset() sample for input '{name}' has shape "
                             f"{arr.shape}; expected rank {rank} (or {rank - 1} without the "
                             "batch axis)")
        out.append(arr)
    return out


def load_python_dataset(path: str, model: Any, limit: int | None = None) -> list[np.ndarray]:
    """Samples yielded by ``get_dataset()`` in the user's Python file ``path`` (each an array,
    a list of arrays (one per input), a dict by input name, or an (x, label) pair), with or
    without a batch axis. The file is the user's own code and is run on purpose."""
    spec = importlib.util.spec_from_file_location("_kerasport_calibration", path)
    if spec is None or spec.loader is None:
        raise InputError(f"calibration script {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InputError(f"calibration script {path} failed to run: "
                         f"{type(exc).__name__}: {exc}") from exc
    get_dataset = getattr(module, "get_dataset", None)
    if not callable(get_dataset):
        raise InputError(f"calibration script {path} defines no get_dataset() function")
    names = model.input_names
    ranks = [len(s) for s in model.input_shapes]
    cap = limit or MAX_DATASET_SAMPLES
    parts: list[list[np.ndarray]] = []
    count = 0
    progress = Progress(cap if limit else None, "reading get_dataset() samples")
    try:
        for sample in get_dataset():
            arrays = _sample_arrays(sample, names, ranks)
            parts.append(arrays)
            count += arrays[0].shape[0]
            progress.update(count)
            if count >= cap:
                break
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"get_dataset() in {path} failed: {type(exc).__name__}: {exc}") \
            from exc
    progress.done()
    if not parts:
        raise InputError(f"get_dataset() in {path} yielded no samples")
    try:
        return [np.concatenate([p[i] for p in parts])[:cap] for i in range(len(names))]
    except ValueError as exc:
        raise InputError(f"get_dataset() in {path} yielded samples of different shapes: "
                         f"{exc}") from exc
