"""Ranges of the intermediate tensors a lowering adds (gates of an unrolled LSTM, the steps of
an activation written as a formula): tensors the IR does not name, so the NumPy runtime cannot
observe them. The float32 file is run in LiteRT on the calibration samples with every tensor
preserved, and those tensors are recorded into the same bounded histograms as IR values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasport.errors import KerasportError
from kerasport.quantize.ranges import DEFAULT_PERCENTILE, RangeRecorder

MAX_SAMPLES = 256  # samples run one by one in LiteRT (a bound on calibration time)


def missing_ranges(ctx: object, ranges: dict[str, tuple[float, float]]) -> list[int]:
    """Float32 activation tensors of ``ctx`` without a calibrated IR range."""
    known = {i for v, i in ctx.index.items() if v in ranges}
    return [i for i, t in enumerate(ctx.tensors)
            if t.data is None and not t.variable and t.dtype == "float32" and i not in known]


def float_file_ranges(content: bytes, arrays: Sequence[np.ndarray], names: set[str],
                      estimator: str, percentile: float = DEFAULT_PERCENTILE,
                      ) -> dict[str, tuple[float, float]]:
    """``(lo, hi)`` of the tensors called ``names`` in the float32 TFLite file ``content``,
    run in LiteRT (no delegate, every tensor kept) on up to MAX_SAMPLES samples of
    ``arrays`` (one array per subgraph input, in order)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=(
                             OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    wanted = {d["name"]: d["index"] for d in interp.get_tensor_details() if d["name"] in names}
    inputs = [d["index"] for d in interp.get_input_details()]
    n = min(int(np.asarray(arrays[0]).shape[0]), MAX_SAMPLES)
    sized = False
    recorder = RangeRecorder()
    for s in range(n):
        sample = [np.ascontiguousarray(a[s:s + 1]) for a in arrays]
        if not sized:
            for index, x in zip(inputs, sample):
                interp.resize_tensor_input(index, list(x.shape))
            interp.allocate_tensors()
            sized = True
        for index, x in zip(inputs, sample):
            interp.set_tensor(index, x)
        interp.invoke()
        for name, index in wanted.items():
            try:
                recorder.observe(name, interp.get_tensor(index))
            except ValueError:  # a tensor LiteRT did not keep
                continue
    if not recorder.stats and wanted:
        raise KerasportError("LiteRT kept none of the intermediate tensors of the float file")
    return recorder.ranges(estimator, percentile)
