"""The engines compared by ``kerasport bench``: each makes its own file from the Keras model,
loads it with a given thread count, runs a batch, and has a snippet for the cold-start process.

Every third-party import is lazy: an engine whose package is missing is skipped with a note.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]


class EngineUnavailable(Exception):
    """The engine cannot run here (package missing, model not convertible); not an error."""


@dataclass
class Case:
    """One model under benchmark, shared by the engines."""

    keras_path: str
    workdir: str
    threads: int
    kp_model: Any = None          # kerasport.Model, or None if not convertible
    kp_error: str | None = None
    keras_model: Any = None       # keras.Model, or None if Keras is not installed
    keras_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _outputs(y: Any) -> list[np.ndarray]:
    if isinstance(y, dict):
        return [np.asarray(v) for v in y.values()]
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return [np.asarray(y)]


def import_tensorflow(threads: int) -> Any:
    """TensorFlow with ``threads`` intra-op threads and one inter-op thread (as ONNX Runtime),
    set before its runtime starts."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise EngineUnavailable(f"tensorflow not installed ({exc})") from exc
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialized in this process: the first setting stays
    return tf


class NumpyEngine:
    """kerasport's NumPy runtime on a bundle (BLAS threads limited by threadpoolctl)."""

    name = "numpy"
    suffix = ".npz"

    def check(self) -> None:
        """Always available."""

    def prepare(self, case: Case) -> tuple[str, float]:
        """Convert .keras -> bundle; (path, seconds)."""
        import kerasport

        if case.kp_model is None:
            raise EngineUnavailable(f"not convertible yet: {case.kp_error}")
        path = os.path.join(case.workdir, "model.npz")
        start = time.perf_counter()
        model = kerasport.load(case.keras_path)
        loaded = time.perf_counter()
        model.save(path)  # includes running the reference input (batch 2)
        end = time.perf_counter()
        case.extra["numpy_convert_detail"] = {"read_convert_s": loaded - start,
                                              "save_s": end - loaded}
        case.extra["numpy_bundle"], case.extra["numpy_convert_s"] = path, end - start
        return path, end - start

    def runner(self, path: str, case: Case, batch: int) -> Runner:
        """Calls ``Model.predict`` on the whole batch."""
        import kerasport

        model = kerasport.load(path)
        return lambda xs: _outputs(model.predict(xs if len(xs) > 1 else xs[0], batch_size=batch))

    cold_code = """
import numpy as np
import kerasport
m = kerasport.load(PATH)
xs = [np.load(p, allow_pickle=False) for p in INPUTS]
outs = m.predict(xs if len(xs) > 1 else xs[0])
"""


class NumpyOneThreadEngine(NumpyEngine):
    """The NumPy runtime with BLAS held at one thread whatever ``--threads`` says: shows how
    much OpenBLAS' own threading helps (or, on a busy machine, hurts)."""

    name = "numpy1"
    cold_threads = 1

    def prepare(self, case: Case) -> tuple[str, float]:
        """The numpy engine's bundle if it was made, else a new one."""
        done = case.extra.get("numpy_bundle")
        if done:
            return done, case.extra.get("numpy_convert_s")
        return super().prepare(case)

    def runner(self, path: str, case: Case, batch: int) -> Runner:
        """Sets BLAS to one thread around each call (threadpoolctl's controllers)."""
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError as exc:
            raise EngineUnavailable("needs threadpoolctl") from exc
        libs = ThreadpoolController().select(user_api="blas").lib_controllers
        run = super().runner(path, case, batch)

        def one_thread(xs: list[np.ndarray]) -> list[np.ndarray]:
            before = [lib.get_num_threads() for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
            try:
                return run(xs)
            finally:
                for lib, n in zip(libs, before):
                    lib.set_num_threads(n)

        return one_thread


class OnnxRuntimeEngine:
    """ONNX Runtime on kerasport's own ONNX export (intra_op_num_threads, one inter-op)."""

    name = "onnxruntime"
    suffix = ".onnx"

    def check(self) -> None:
        """Needs onnx and onnxruntime."""
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(f"not installed ({exc.name}); pip install "
                                    "'kerasport[onnx]'") from exc

    def prepare(self, case: Case) -> tuple[str, float]:
        """Convert .keras -> ONNX with kerasport (no TensorFlow); (path, seconds)."""
        import onnx

        import kerasport
        from kerasport.export.onnx import to_onnx

        if case.kp_model is None:
            raise EngineUnavailable(f"not convertible yet: {case.kp_error}")
        from kerasport.errors import KerasportError

        path = os.path.join(case.workdir, "model.onnx")
        start = time.perf_counter()
        try:
            proto = to_onnx(kerasport.load(case.keras_path))
        except KerasportError as exc:
            raise EngineUnavailable(f"not convertible to ONNX yet: {exc}") from exc
        onnx.save(proto, path)
        return path, time.perf_counter() - start

    def runner(self, path: str, case: Case, batch: int) -> Runner:
        """One InferenceSession; inputs fed by position."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = case.threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        return lambda xs: sess.run(None, dict(zip(names, xs)))

    cold_code = """
import numpy as np
import onnxruntime as ort
o = ort.SessionOptions()
o.intra_op_num_threads = THREADS
o.inter_op_num_threads = 1
s = ort.InferenceSession(PATH, o, providers=["CPUExecutionProvider"])
xs = [np.load(p, allow_pickle=False) for p in INPUTS]
outs = s.run(None, {i.name: x for i, x in zip(s.get_inputs(), xs)})
"""


def _tflite_float32(case: Case, batch: int | None = None) -> bytes:
    """Float32 .tflite bytes from kerasport's own TFLite path (the Keras file, a SavedModel,
    TensorFlow's converter), run in this process, where TensorFlow already has the bench's
    thread settings. With ``batch``, the signature has that fixed batch size."""
    import_tensorflow(case.threads)  # thread settings before TensorFlow's runtime starts
    from kerasport.export.tflite.convert import convert_in_process
    from kerasport.export.tflite.job import ModelInfo
    from kerasport.export.tflite.options import TFLiteOptions

    return convert_in_process(case.keras_path, ModelInfo.from_model(case.kp_model),
                              TFLiteOptions(batch_size=batch))


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


class LiteRTEngine:
    """The LiteRT interpreter (ai-edge-litert, num_threads) on a float32 .tflite made by
    TensorFlow's converter from the Keras model's SavedModel."""

    name = "litert"
    suffix = ".tflite"

    def check(self) -> None:
        """Needs ai_edge_litert (to run) and TensorFlow (to convert)."""
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(f"not installed ({exc.name}); pip install "
                                    "ai-edge-litert") from exc

    def prepare(self, case: Case) -> tuple[str, float]:
        """Keras -> SavedModel -> .tflite; (path, seconds)."""
        from kerasport.export.tflite import needs_static_batch

        if case.keras_model is None:
            raise EngineUnavailable(f"needs Keras to convert: {case.keras_error}")
        if case.kp_model is None:
            raise EngineUnavailable(f"not convertible yet: {case.kp_error}")
        # TFLite needs a static batch for recurrent layers (as kerasport's export decides)
        fixed = bool(needs_static_batch(case.kp_model.graph))
        case.extra["litert_fixed_batch"] = fixed
        start = time.perf_counter()
        data = _tflite_float32(case, batch=1 if fixed else None)
        path = _write(os.path.join(case.workdir, "model_b1.tflite" if fixed else "model.tflite"),
                      data)
        return path, time.perf_counter() - start

    def runner(self, path: str, case: Case, batch: int) -> Runner:
        """An interpreter resized to ``batch`` once (or a file converted for that batch size,
        when the model only converts with a fixed one); inputs matched to the signature by
        name."""
        from ai_edge_litert.interpreter import Interpreter

        fixed = case.extra.get("litert_fixed_batch")
        if fixed and batch != 1:
            path = os.path.join(case.workdir, f"model_b{batch}.tflite")
            if not os.path.exists(path):
                _write(path, _tflite_float32(case, batch=batch))
        it = Interpreter(model_path=path, num_threads=case.threads)
        ins, outs = _signature(it, case.extra.get("input_names", []))
        if not fixed:
            for idx, shape in zip(ins, case.extra["input_shapes"]):
                it.resize_tensor_input(idx, [batch, *shape[1:]])
        it.allocate_tensors()

        def run(xs: list[np.ndarray]) -> list[np.ndarray]:
            for idx, x in zip(ins, xs):
                it.set_tensor(idx, x)
            it.invoke()
            return [it.get_tensor(i) for i in outs]

        return run

    cold_code = """
import numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=PATH, num_threads=THREADS)
xs = [np.load(p, allow_pickle=False) for p in INPUTS]
sig = it.get_signature_runner()
outs = sig(**dict(zip(NAMES, xs)))
"""


def _signature(it: Any, names: list[str]) -> tuple[list[int], list[int]]:
    """Tensor indices of the inputs (in Keras' order) and outputs (output_0, output_1, ...)."""
    sig = it.get_signature_runner()
    ins = sig.get_input_details()
    outs = sig.get_output_details()
    keys = list(ins)
    order = [n if n in ins else keys[i] for i, n in enumerate(names)] if names else keys
    out_keys = sorted(outs, key=lambda k: (len(k), k))
    return [ins[k]["index"] for k in order], [outs[k]["index"] for k in out_keys]


def signature_input_names(path: str, keras_names: list[str]) -> list[str]:
    """The .tflite signature's input names in Keras' input order (same names where present)."""
    from ai_edge_litert.interpreter import Interpreter

    keys = list(Interpreter(model_path=path).get_signature_runner().get_input_details())
    return [n if n in keys else keys[i] for i, n in enumerate(keras_names)]


class KerasEngine:
    """``keras.Model.predict`` (TensorFlow backend, intra-op threads set) on the .keras file."""

    name = "keras"
    suffix = ".keras"

    def check(self) -> None:
        """Needs Keras (and its backend)."""
        try:
            import keras  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(f"not installed ({exc.name})") from exc

    def prepare(self, case: Case) -> tuple[str, float | None]:
        """Nothing to convert: the .keras file itself."""
        if case.keras_model is None:
            raise EngineUnavailable(f"cannot load the model: {case.keras_error}")
        return case.keras_path, None

    def runner(self, path: str, case: Case, batch: int) -> Runner:
        """``predict`` of the model loaded once in this process."""
        model = case.keras_model
        return lambda xs: _outputs(model.predict(xs if len(xs) > 1 else xs[0], batch_size=batch,
                                                 verbose=0))

    cold_code = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(THREADS)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
m = keras.models.load_model(PATH, compile=False)
xs = [np.load(p, allow_pickle=False) for p in INPUTS]
outs = m.predict(xs if len(xs) > 1 else xs[0], verbose=0)
"""


ENGINES: dict[str, Any] = {e.name: e for e in (NumpyEngine(), NumpyOneThreadEngine(),
                                                 OnnxRuntimeEngine(), LiteRTEngine(),
                                                 KerasEngine())}
NATIVE = ("onnxruntime", "litert")
