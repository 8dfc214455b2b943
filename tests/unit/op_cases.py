"""One small example per IR op, built without Keras: inputs, attributes, tolerances.

An input is a graph input (``x``: the batch first) or a constant (``c``: a weight). The
conformance test builds a one-node graph from each case, runs the kernel, checks the output
shapes against the op's shape rule, and compares with ONNX Runtime where the op has an emitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

RNG = np.random.default_rng(13)
N = 2  # batch


@dataclass(frozen=True)
class In:
    """One input: the array, and whether it is a constant (weight) or a graph input."""

    array: np.ndarray | None
    const: bool = False


@dataclass(frozen=True)
class Case:
    """An op applied to example inputs; ``n_out`` outputs; tolerances for ONNX Runtime."""

    op: str
    inputs: tuple[In, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    n_out: int = 1
    rtol: float = 1e-4
    atol: float = 1e-5
    id: str = ""


def x(*shape: int, low: float = -2.0, high: float = 2.0) -> In:
    """A float32 graph input of ``(N, *shape)``."""
    return In(RNG.uniform(low, high, (N, *shape)).astype(np.float32))


def c(*shape: int, scale: float = 0.5) -> In:
    """A float32 constant."""
    return In((RNG.standard_normal(shape) * scale).astype(np.float32), const=True)


def ints(*shape: int, high: int, dtype: str = "int32") -> In:
    """An integer graph input of ``(N, *shape)`` in [0, high)."""
    return In(RNG.integers(0, high, (N, *shape)).astype(dtype))


def mask(t: int) -> In:
    """A float32 0/1 mask input (N, T), the first step always kept."""
    m = (RNG.uniform(size=(N, t)) > 0.3).astype(np.float32)
    m[:, 0] = 1.0
    return In(m)


NONE = In(None)  # an absent optional input

_UNARY_PLAIN = ("Exp", "HardSilu", "HardTanh", "LogSigmoid", "Mish", "Selu", "Sigmoid", "Silu",
                "Softplus", "Softsign", "SparsePlus", "SparseSigmoid", "Tanh", "TanhShrink")


def _activations() -> list[Case]:
    cases = [Case(op, (x(3, 4),)) for op in _UNARY_PLAIN]
    cases += [
        Case("Relu", (x(3, 4),), {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2}),
        Case("LeakyRelu", (x(3, 4),), {"alpha": 0.3}),
        Case("PRelu", (x(3, 4), c(3, 4))),
        Case("Elu", (x(3, 4),), {"alpha": 0.7}),
        Case("Celu", (x(3, 4),), {"alpha": 0.7}),
        Case("Gelu", (x(3, 4),), {"approximate": True}),
        Case("HardSigmoid", (x(3, 4),), {"slope": 0.2, "offset": 0.5}),
        Case("HardShrink", (x(3, 4),), {"threshold": 0.5}),
        Case("SoftShrink", (x(3, 4),), {"threshold": 0.5}),
        Case("Squareplus", (x(3, 4),), {"b": 4.0}),
        Case("Threshold", (x(3, 4),), {"threshold": 0.1, "default_value": -1.0}),
        Case("Softmax", (x(3, 4),), {"axis": -1}),
        Case("LogSoftmax", (x(3, 4),), {"axis": 1}),
        Case("Glu", (x(3, 4),), {"axis": -1}),
        Case("Glu", (x(4, 3),), {"axis": 1}, id="axis1"),
    ]
    return cases


def _arithmetic() -> list[Case]:
    return [
        Case("Add", (x(3, 4), x(3, 4), x(1, 4))),
        Case("Sub", (x(3, 4), x(3, 4))),
        Case("Mul", (x(3, 4), x(3, 1))),
        Case("Div", (x(3, 4), x(3, 4, low=0.5, high=2.0))),
        Case("Max", (x(3, 4), x(3, 4))),
        Case("Min", (x(3, 4), x(3, 4))),
        Case("Mean", (x(3, 4), x(3, 4), x(3, 4))),
        Case("Affine", (x(3, 4), c(4), c(4))),
        Case("Cast", (x(3, 4),), {"dtype": "int32"}),
        Case("Dense", (x(3, 5), c(5, 4), c(4))),
        Case("MatMul", (x(3, 5), x(5, 4))),
        Case("MatMul", (x(3, 5), x(4, 5)), {"transpose_b": True}, id="transpose_b"),
        Case("Einsum", (x(3, 5), c(5, 2, 3)), {"equation": "abc,cde->abde"}),
    ]


def _spatial() -> list[Case]:
    return [
        Case("Conv", (x(6, 6, 3), c(3, 3, 3, 4), c(4)),
             {"strides": [2, 1], "dilations": [1, 1], "padding": "same"}),
        Case("Conv", (x(7, 3), c(3, 3, 4)), {"strides": [1], "dilations": [2],
                                             "padding": "causal"}, id="causal"),
        Case("DepthwiseConv", (x(5, 5, 3), c(3, 3, 3, 2), c(6)),
             {"strides": [1, 1], "dilations": [1, 1], "padding": "valid"}),
        Case("ConvTranspose", (x(4, 4, 3), c(3, 3, 2, 3), c(2)),
             {"strides": [2, 2], "dilations": [1, 1], "padding": "same"}),
        Case("Pool", (x(6, 6, 3),), {"mode": "max", "pool_size": [2, 2], "strides": [2, 2],
                                     "padding": "valid"}),
        Case("Pool", (x(5, 5, 3),), {"mode": "avg", "pool_size": [3, 3], "strides": [2, 2],
                                     "padding": "same"}, id="avg_same"),
        Case("Reduce", (x(4, 5, 3),), {"mode": "mean", "axes": [1, 2], "keepdims": False}),
        Case("Resize", (x(3, 4, 2),), {"size": [6, 8], "method": "bilinear"}),
        Case("Repeat", (x(3, 4, 2),), {"repeats": [2, 3]}),
        Case("LayerNorm", (x(3, 4), c(4), c(4)), {"axes": [-1], "epsilon": 1e-3}),
        Case("GroupNorm", (x(3, 6), c(6), c(6)), {"groups": 3, "epsilon": 1e-3}),
        Case("RmsNorm", (x(3, 4), c(4)), {"axes": [-1], "epsilon": 1e-6}),
        Case("L2Normalize", (x(3, 4),), {"axes": [-1]}),
    ]


def _shape_ops() -> list[Case]:
    return [
        Case("Reshape", (x(3, 4),), {"shape": [2, -1]}),
        Case("Flatten", (x(3, 4, 2),)),
        Case("Transpose", (x(3, 4),), {"perm": [0, 2, 1]}),
        Case("Pad", (x(3, 4),), {"pads": [[0, 0], [1, 2], [0, 1]], "value": 0.5}),
        Case("Crop", (x(5, 4),), {"crops": [[0, 0], [1, 2], [0, 1]]}),
        Case("Concat", (x(3, 4), x(3, 2)), {"axis": -1}),
        Case("Gather", (c(7, 3), ints(4, high=7))),
        Case("Reverse", (x(3, 4),), {"axis": 1}),
        Case("ExpandDims", (x(3, 4),), {"axis": 1}),
        Case("Fill", (x(3, 4),), {"value": 1.0, "dtype": "float32"}),
        Case("FoldTime", (x(3, 4),)),
        Case("UnfoldTime", (In(RNG.standard_normal((N * 3, 5)).astype(np.float32)), x(3, 4))),
    ]


def _masks() -> list[Case]:
    return [
        Case("MaskNotEqual", (x(4, 3),), {"value": 0.0, "axis": -1, "dtype": "float32"}),
        Case("ApplyMask", (x(4, 3), mask(4))),
        Case("MaskedMean", (x(4, 3), mask(4))),
        Case("MaskReduce", (mask(4),), {"mode": "any", "axis": -1, "keepdims": False}),
        Case("MaskLogical", (mask(4), mask(4)), {"mode": "and"}),
        Case("MaskedSoftmax", (x(2, 4, 4), mask(4)), {"axes": [-1], "expand_axis": 1}),
    ]


def _recurrent() -> list[Case]:
    f, u = 3, 4
    t = 5
    return [
        Case("SimpleRNN", (x(t, f), c(f, u), c(u, u), c(u), NONE, mask(t)),
             {"return_sequences": True}, n_out=2),
        Case("LSTM", (x(t, f), c(f, 4 * u), c(u, 4 * u), c(4 * u), NONE, NONE, mask(t)),
             {"return_sequences": False}, n_out=3),
        Case("GRU", (x(t, f), c(f, 3 * u), c(u, 3 * u), c(2, 3 * u)),
             {"return_sequences": True, "reset_after": True}, n_out=2),
        Case("ConvLSTM", (x(3, 5, 5, 2), c(3, 3, 2, 4 * 2), c(3, 3, 2, 4 * 2), c(4 * 2)),
             {"padding": "same", "strides": [1, 1], "dilations": [1, 1],
              "return_sequences": True}, n_out=3),
    ]


def _preprocessing() -> list[Case]:
    keys = In(np.array([1, 3, 5, 7], np.int64), const=True)
    values = In(np.array([10, 11, 12, 13], np.int64), const=True)
    boundaries = In(np.array([-1.0, 0.0, 1.0], np.float32), const=True)
    return [
        Case("Bucketize", (x(4), boundaries)),
        Case("Lookup", (ints(4, high=9, dtype="int64"), keys, values), {"default": -1}),
        Case("CategoryEncode", (ints(4, high=5),), {"depth": 5, "mode": "multi_hot"}),
        Case("AutoContrast", (x(4, 4, 3, low=0.0, high=255.0),)),
        Case("FarmHash", (ints(4, high=1000, dtype="int64"),), {"num_bins": 7}),
    ]


def _onnx_general() -> list[Case]:
    """The general elementwise and indexing ops the ONNX reader emits."""
    idx = In(np.array([[2, 0], [1, -1]], np.int64), const=True)
    cases = [Case("Math", (x(3, 4, low=0.1, high=2.0),), {"fn": fn}, id=fn)
             for fn in ("sqrt", "log", "neg", "abs", "reciprocal", "floor", "ceil", "erf",
                        "sin", "cos", "sign", "round")]
    return cases + [
        Case("Pow", (x(3, 4, low=0.1, high=2.0), c(4))),
        Case("Where", (x(3, 4), x(3, 4), In(RNG.uniform(size=(N, 3, 4)) > 0.5))),
        *[Case("Compare", (x(3, 4), x(1, 4)), {"mode": m}, id=m)
          for m in ("equal", "less", "less_equal", "greater", "greater_equal")],
        Case("Logic", (In(RNG.uniform(size=(N, 3)) > 0.5),), {"mode": "not"}, id="not"),
        Case("Logic", (In(RNG.uniform(size=(N, 3)) > 0.5), In(RNG.uniform(size=(N, 3)) > 0.5)),
             {"mode": "xor"}, id="xor"),
        Case("Slice", (x(5, 6),), {"starts": [1, -1], "ends": [4, -7], "axes": [1, 2],
                                   "steps": [2, -2]}),
        Case("Take", (x(3, 4), idx), {"axis": 2}),
        Case("Tile", (x(3, 2),), {"repeats": [1, 2, 3]}),
        Case("Mod", (x(3, 4), x(3, 4, low=0.5, high=2.0)), {"fmod": False}, id="mod"),
        Case("Mod", (x(3, 4), x(3, 4, low=0.5, high=2.0)), {"fmod": True}, id="fmod"),
        Case("Arg", (x(3, 4),), {"axis": 2, "keepdims": True, "mode": "max"}, id="max"),
        Case("Arg", (In(np.round(RNG.uniform(0, 2, (N, 3, 4))).astype(np.float32)),),
             {"axis": 1, "keepdims": False, "mode": "min", "last": True}, id="min-last"),
        Case("TakeAlong", (x(3, 4), In(np.array([[[2, 0, 1, -1]]] * N, np.int64))),
             {"axis": 1}),
        Case("CumSum", (x(3, 4),), {"axis": 2, "exclusive": True, "reverse": True}),
        Case("Trilu", (x(3, 4),), {"k": 1, "upper": False}),
        Case("SpatialPad", (x(4, 5, 3),), {"margins": [[1, 0], [2, 1]], "value": -1.5}),
    ]


def all_cases() -> list[Case]:
    """Every example, in family order."""
    return (_activations() + _arithmetic() + _spatial() + _shape_ops() + _masks()
            + _recurrent() + _preprocessing() + _onnx_general())
