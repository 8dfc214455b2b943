"""The keras.applications zoo: build each architecture with Keras (weights=None), randomise every
weight, save it, convert it with kerasport, and measure error and timings.

Used by tests/test_zoo.py (the CI subset) and by scripts/gen_zoo_doc.py (every architecture,
written to docs/zoo.md). Needs the ``keras`` extra (TensorFlow + Keras 3 + tf_keras).
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class Arch:
    """One architecture configuration: input size, classes, and whether it is slow."""

    name: str
    size: tuple[int, int] = (32, 32)
    classes: int = 7
    slow: bool = False
    kwargs: tuple = ()

    @property
    def id(self) -> str:
        return f"{self.name}-{self.size[0]}x{self.size[1]}-c{self.classes}"


def _arch(name, size=(32, 32), classes=7, slow=False, **kwargs):
    return Arch(name, size, classes, slow, tuple(sorted(kwargs.items())))


# Two configurations per architecture (different input sizes and class counts); the large
# models are marked slow (run by scripts/gen_zoo_doc.py and `pytest -m slow`).
ARCHS = [
    *(_arch(n) for n in ("VGG16", "VGG19", "ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2",
                         "MobileNetV3Small", "MobileNetV3Large", "DenseNet121", "EfficientNetB0",
                         "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
                         "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
                         "EfficientNetV2B3", "ConvNeXtTiny", "NASNetMobile")),
    *(_arch(n, slow=True) for n in ("ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2",
                                    "DenseNet169", "DenseNet201", "EfficientNetB4",
                                    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
                                    "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L",
                                    "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge",
                                    "ConvNeXtXLarge", "NASNetLarge")),
    _arch("InceptionV3", (75, 75)),
    _arch("InceptionResNetV2", (75, 75)),
    _arch("Xception", (71, 71)),
    _arch("MobileNetV3Small", (48, 40), 5, include_preprocessing=False),
    _arch("MobileNetV3Large", (64, 64), 3, include_preprocessing=False, minimalistic=True),
    _arch("MobileNetV2", (64, 48), 11, alpha=0.5),
    _arch("MobileNet", (48, 64), 4, alpha=0.75),
    _arch("ResNet50", (64, 80), 1000),
    _arch("EfficientNetB0", (64, 64), 1000),
    _arch("EfficientNetV2B0", (48, 64), 3, include_preprocessing=False),
    _arch("DenseNet121", (48, 48), 1000, slow=True),
    _arch("ConvNeXtTiny", (64, 64), 1000, include_preprocessing=False, slow=True),
    _arch("InceptionV3", (96, 128), 1000, slow=True),
    _arch("Xception", (96, 96), 1000, slow=True),
    _arch("VGG16", (48, 64), 1000, slow=True),
    _arch("NASNetMobile", (64, 64), 1000, slow=True),
]


def build(arch: Arch, keras):
    """The Keras model for ``arch``, with logits out (no softmax)."""
    fn = getattr(keras.applications, arch.name)
    kwargs = dict(arch.kwargs)
    return fn(weights=None, input_shape=(*arch.size, 3), classes=arch.classes,
              classifier_activation=None, **kwargs)


@dataclass
class ZooResult:
    """What one architecture run measured."""

    id: str
    name: str
    params: int
    formats: str
    max_error: float
    convert_s: float
    numpy_ms: float
    keras_ms: float


# Keras 2 (tf_keras) builds of the architectures whose files differ most between versions
# (TFOpLambda nodes, application classes, nested Sequentials).
K2_ARCHS = [_arch(n) for n in ("MobileNetV3Small", "ConvNeXtTiny", "EfficientNetB0",
                               "EfficientNetV2B0", "NASNetMobile", "ResNet50V2", "MobileNetV2")]
K2_ARCHS += [_arch("InceptionResNetV2", (75, 75)), _arch("Xception", (71, 71))]


def run(arch: Arch, workdir: Path, formats=("keras", "h5"), seed: int = 0,
        flavour: str = "k3") -> ZooResult:
    """Build with Keras 3 (``k3``) or tf_keras (``k2``), randomise, save in ``formats``,
    convert each, compare logits with Keras."""
    from keras_models import keras_module, keras_outputs, max_error, randomize, save

    import kerasport

    keras = keras_module(flavour)
    keras.utils.set_random_seed(seed)
    model = build(arch, keras)
    randomize(model, seed)
    x = np.random.default_rng(seed).uniform(0, 255, (2, *arch.size, 3)).astype(np.float32)
    start = time.perf_counter()
    want = keras_outputs(model, [x])
    keras_ms = (time.perf_counter() - start) * 1000
    params = int(model.count_params())
    worst, convert_s, numpy_ms = 0.0, 0.0, 0.0
    for ext in formats:
        path = save(model, workdir / f"{arch.name}.{ext}")
        start = time.perf_counter()
        m = kerasport.load(path)
        convert_s = max(convert_s, time.perf_counter() - start)
        m.predict(x[:1])  # warm-up
        start = time.perf_counter()
        got = m.predict(x[:1])
        numpy_ms = (time.perf_counter() - start) * 1000
        worst = max(worst, max_error([m.predict(x)], want))
        path.unlink()
        del m
        gc.collect()
    del model
    keras.backend.clear_session()
    gc.collect()
    assert got.shape == (1, arch.classes)
    rid = arch.id if flavour == "k3" else f"{arch.id}-keras2"
    return ZooResult(rid, arch.name, params, "+".join(f".{f}" for f in formats), worst,
                     round(convert_s, 3), round(numpy_ms, 1), round(keras_ms, 1))


def as_dict(result: ZooResult) -> dict:
    """JSON-friendly form."""
    return asdict(result)
