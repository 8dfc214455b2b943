"""Which TFLite operators run in int8, and how each one's tensors are quantized.

- ``WEIGHTED``: operators with a constant weight (symmetric per-channel int8 on an axis) and
  an optional int32 bias (scale = input scale * weight scale): positions of data, weight,
  bias and the weight's channel axis.
- ``OWN_PARAMS``: int8 kernels that requantize, so the output takes the parameters of its own
  calibrated range; float constant operands become per-tensor int8 constants.
- ``FIXED_OUTPUT`` (from ``kerasport.quantize.affine``): int8 kernels whose output parameters
  are fixed (softmax, logistic, tanh ...).
- ``SAME_AS_INPUT``: kernels that move or select values, whose output carries its data input's
  parameters.
- ``SHARED``: kernels needing every input and the output on the same parameters (the output's
  range; inputs on other parameters are requantized with a QUANTIZE).

Anything else has no int8 kernel here and stays float32 between DEQUANTIZE and QUANTIZE when
the user allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kerasport.quantize.affine import FIXED_OUTPUT, SAME_AS_INPUT


@dataclass(frozen=True)
class Weighted:
    """Input positions of a weighted operator and the weight's per-channel axis."""

    data: int
    weight: int
    bias: int | None
    axis: int


WEIGHTED = {
    "CONV_2D": Weighted(0, 1, 2, 0),
    "DEPTHWISE_CONV_2D": Weighted(0, 1, 2, 3),
    "FULLY_CONNECTED": Weighted(0, 1, 2, 0),
    "TRANSPOSE_CONV": Weighted(2, 1, 3, 0),
}
OWN_PARAMS = frozenset({
    "ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "MEAN", "SUM",
    "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "HARD_SWISH", "GELU", "ELU",
    "BATCH_MATMUL", "RSQRT", "QUANTIZE", "ABS", "RELU_0_TO_1", "EXP", "LOG", "SQRT", "DIV",
    "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "EQUAL", "NOT_EQUAL",
})
SHARED = frozenset({"CONCATENATION", "MAXIMUM", "MINIMUM", "PACK", "SELECT_V2", "SELECT"})
# ops that read only a tensor's shape: any input type, left as they are
SHAPE_ONLY = frozenset({"SHAPE", "RANK"})
# ops whose int8 kernels need per-tensor parameters for every input (weights excepted)
INT8_OPS = frozenset(WEIGHTED) | OWN_PARAMS | SHARED | frozenset(FIXED_OUTPUT) | SAME_AS_INPUT

# why an operator without an int8 kernel here stays float, when there is more to say
NO_INT8 = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "TFLite's int8 LSTM kernel needs int16 cell states and "
    "per-gate intermediate scales, which kerasport does not compute: --tflite-lstm unrolled "
    "writes the LSTM as int8 FULLY_CONNECTED/LOGISTIC/TANH/MUL/ADD steps",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "TFLite's sequence RNN kernel has no full-int8 form: with "
    "a fixed sequence length the writer unrolls the layer into int8 steps",
    "FILL": "it sets a fused recurrent layer's float32 states (see its own entry)",
}

Range = tuple[float, float]


def interval(code: str, inputs: list[Range | None]) -> Range | None:
    """A bound on the output range of ``code`` from its float inputs' ranges (for
    intermediate tensors the IR does not name), or None when it cannot be bounded."""
    if any(r is None for r in inputs) or not inputs:
        return None
    if code in SAME_AS_INPUT:
        return inputs[0]
    if code in ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"):
        lo, hi = {"RELU": (0.0, float("inf")), "RELU6": (0.0, 6.0),
                  "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}[code]
        a, b = inputs[0]
        return max(a, lo), max(min(b, hi), max(a, lo))
    if code == "ABS":
        a, b = inputs[0]
        return (0.0 if a <= 0 <= b else min(abs(a), abs(b))), max(abs(a), abs(b))
    if code == "NEG":
        return -inputs[0][1], -inputs[0][0]
    if len(inputs) != 2:
        return None
    (a1, b1), (a2, b2) = inputs
    if code == "ADD":
        return a1 + a2, b1 + b2
    if code == "SUB":
        return a1 - b2, b1 - a2
    if code == "MUL":
        corners = (a1 * a2, a1 * b2, b1 * a2, b1 * b2)
        return min(corners), max(corners)
    if code in ("MAXIMUM", "MINIMUM"):
        pick = max if code == "MAXIMUM" else min
        return pick(a1, a2), pick(b1, b2)
    return None
