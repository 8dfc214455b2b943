"""TFLite's 8-bit affine quantization rules, ``real = (q - zero_point) * scale``.

- Activations: per tensor, asymmetric int8 in [-128, 127] with a zero point in [-128, 127];
  the range is widened to contain 0 and nudged so that 0 is exactly representable.
- Weights: symmetric int8 in [-127, 127], zero point 0, one scale per output channel on
  ``axis`` (CONV_2D: 0 of OHWI; DEPTHWISE_CONV_2D: 3 of 1HWC; FULLY_CONNECTED: 0 of (out, in)).
- Biases: int32, zero point 0, ``scale = input_scale * weight_scale`` per channel.
- Some ops have fixed output parameters (``FIXED_OUTPUT``), others require their output to
  carry their input's parameters (``SAME_AS_INPUT``).
- uint8 model I/O is the int8 tensor shifted by 128 (same scale, zero point + 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasport.errors import KerasportError

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_MAX = 127
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
# a value that is always 0 still needs a positive scale; any represents 0 exactly, and a
# moderate one keeps int32 biases (input scale x weight scale) in range: [0, 1]
ZERO_RANGE_SCALE = 1.0 / 255.0

# Output parameters TFLite's int8 kernels require: (scale, zero point), by TFLite op.
FIXED_OUTPUT = {
    "SOFTMAX": (1.0 / 256.0, -128),
    "LOGISTIC": (1.0 / 256.0, -128),
    "TANH": (1.0 / 128.0, 0),
    "LOG_SOFTMAX": (16.0 / 256.0, 127),
    "L2_NORMALIZATION": (1.0 / 128.0, 0),
}
# TFLite ops whose int8 kernels need the output to carry the input's scale and zero point
# (they move or select values without rescaling). CONCATENATION, MAXIMUM and MINIMUM need all
# inputs and the output on the same parameters: inputs are requantized to the output's.
SAME_AS_INPUT = frozenset({
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "MAX_POOL_2D", "AVERAGE_POOL_2D",
    "PAD", "PADV2", "SLICE", "STRIDED_SLICE", "GATHER", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
    "SPLIT", "TILE", "REVERSE_V2", "BROADCAST_TO", "REDUCE_MAX", "REDUCE_MIN",
    "UNPACK", "SPLIT_V",
})


@dataclass(frozen=True)
class QuantParams:
    """Scale(s) and zero point(s) of one tensor; ``axis`` is None for per-tensor values."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None
    dtype: str = "int8"

    @property
    def per_tensor(self) -> tuple[float, int]:
        """``(scale, zero_point)`` of a per-tensor value."""
        if self.axis is not None or len(self.scale) != 1:
            raise KerasportError("per-channel parameters have no single scale")
        return self.scale[0], self.zero_point[0]


def activation_params(lo: float, hi: float, dtype: str = "int8") -> QuantParams:
    """Asymmetric per-tensor parameters for the range ``[lo, hi]`` (widened to contain 0), with
    the zero point rounded to an integer the way TFLite's tools nudge it."""
    qmin, qmax = _limits(dtype)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise KerasportError(f"invalid activation range [{lo}, {hi}]")
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / (qmax - qmin)
    if scale <= 0:
        return QuantParams((ZERO_RANGE_SCALE,), (qmin,), None, dtype)
    zero = qmin - lo / scale
    zero_point = int(np.clip(np.round(zero), qmin, qmax))
    return QuantParams((float(np.float32(scale)),), (zero_point,), None, dtype)


def _limits(dtype: str) -> tuple[int, int]:
    if dtype == "int8":
        return INT8_MIN, INT8_MAX
    if dtype == "uint8":
        return 0, 255
    raise KerasportError(f"activations quantize to int8 or uint8, not '{dtype}'")


def to_uint8(params: QuantParams) -> QuantParams:
    """The uint8 form of int8 per-tensor parameters (same scale, zero point + 128)."""
    scale, zero = params.per_tensor
    return QuantParams((scale,), (zero + 128,), None, "uint8")


def weight_params(w: np.ndarray, axis: int) -> tuple[np.ndarray, QuantParams]:
    """Symmetric per-channel int8 weights along ``axis``: values in [-127, 127], zero points
    0, ``scale = max|w| / 127`` per channel (1.0 for an all-zero channel)."""
    w = np.asarray(w, dtype=np.float32)
    if not -w.ndim <= axis < w.ndim:
        raise KerasportError(f"weight of shape {w.shape} has no axis {axis}")
    axis %= w.ndim
    others = tuple(i for i in range(w.ndim) if i != axis)
    peak = np.max(np.abs(w), axis=others) if others else np.abs(w)
    scale = np.where(peak > 0, peak / WEIGHT_MAX, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
    return q, QuantParams(tuple(float(s) for s in scale), (0,) * scale.size, axis)


def bias_params(b: np.ndarray, input_scale: float,
                weight: QuantParams) -> tuple[np.ndarray, QuantParams]:
    """int32 biases with ``scale = input_scale * weight_scale`` per channel, zero point 0;
    refuses a bias that does not fit int32 at that scale."""
    scales = np.asarray(weight.scale, np.float64) * float(input_scale)
    b = np.asarray(b, np.float64)
    if scales.size not in (1, b.size):
        raise KerasportError(f"{b.size} biases for {scales.size} weight scales")
    q = np.round(b / scales)
    if np.any(q < INT32_MIN) or np.any(q > INT32_MAX):
        raise KerasportError("a bias does not fit int32 at input_scale * weight_scale: the "
                             "input's calibrated range is far too small for this layer")
    return q.astype(np.int32), QuantParams(tuple(float(np.float32(s)) for s in scales),
                                           (0,) * scales.size, 0 if scales.size > 1 else None,
                                           "int32")


def quantize(x: np.ndarray, params: QuantParams) -> np.ndarray:
    """``clip(round(x / scale) + zero_point)`` of a per-tensor activation (rounding half away
    from zero, as TFLite's QUANTIZE)."""
    scale, zero = params.per_tensor
    qmin, qmax = _limits(params.dtype)
    v = np.asarray(x, np.float64) / scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero
    return np.clip(q, qmin, qmax).astype(params.dtype)


def dequantize(q: np.ndarray, params: QuantParams) -> np.ndarray:
    """``(q - zero_point) * scale``, per tensor or along ``params.axis``."""
    q = np.asarray(q, np.float64)
    scale = np.asarray(params.scale, np.float64)
    zero = np.asarray(params.zero_point, np.float64)
    if params.axis is not None and scale.size > 1:
        shape = [1] * q.ndim
        shape[params.axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q - zero) * scale).astype(np.float32)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's fixed-point form of a positive real multiplier: ``real ~= m * 2**(shift-31)``
    with ``m`` an int32 in [2**30, 2**31) (or 0 for 0)."""
    if real < 0:
        raise KerasportError(f"multiplier {real} is negative")
    if real == 0:
        return 0, 0
    mantissa, shift = np.frexp(real)
    m = int(np.round(mantissa * 2 ** 31))
    if m == 2 ** 31:
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return m, int(shift)


def multiply_by_quantized_multiplier(acc: np.ndarray, m: int, shift: int) -> np.ndarray:
    """``acc * m * 2**(shift-31)`` rounded to nearest (half away from zero): the integer
    requantization of TFLite's kernels, exact in int64 for int32 accumulators."""
    acc = np.asarray(acc, np.int64)
    if np.any(np.abs(acc) > INT32_MAX):
        raise KerasportError("an int32 accumulator overflowed")
    total = 31 - shift
    prod = np.abs(acc) * np.int64(m)  # < 2**62: exact in int64
    if total > 0:
        prod = (prod + (np.int64(1) << (total - 1))) >> total
    else:
        prod = prod << -total
    return np.sign(acc) * prod
