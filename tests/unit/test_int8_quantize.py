"""Activation statistics, range estimators and TFLite's int8 affine rules, against NumPy
computed on the full data (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from kerasport.errors import InputError, KerasportError
from kerasport.ir.builder import Builder
from kerasport.quantize import affine
from kerasport.quantize.ranges import BINS, RangeRecorder, ValueStats, estimate_range
from kerasport.runtime.calibrate import calibrate_ranges, record_statistics

RNG = np.random.default_rng(0)


def _quant_mse(x: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of x after int8 quantization with the range [lo, hi]."""
    p = affine.activation_params(lo, hi)
    return float(np.mean((affine.dequantize(affine.quantize(x, p), p) - x) ** 2))


def _stats(*batches: np.ndarray) -> ValueStats:
    s = ValueStats()
    for b in batches:
        s.add(b)
    return s


def test_histogram_keeps_every_element_and_exact_extremes():
    small = RNG.normal(size=10_000) * 0.01
    big = RNG.normal(size=10_000) * 50  # forces many doublings of the bound
    s = _stats(small, big, np.zeros(7))
    assert s.count == s.counts.sum() == 20_007
    assert s.counts.size == BINS
    assert s.min == min(small.min(), big.min()) and s.max == max(small.max(), big.max())
    assert s.bound >= max(abs(s.min), abs(s.max))
    # merged bins nest exactly: the counts are NumPy's on the final edges (up to values
    # landing on an edge by float rounding)
    want, _ = np.histogram(np.concatenate([small, big, np.zeros(7)]), bins=s.edges)
    assert np.abs(s.counts - want).sum() <= 4


def test_minmax_is_the_observed_range_with_zero():
    x = RNG.uniform(0.5, 3.0, size=1000)
    assert estimate_range(_stats(x), "minmax") == (0.0, pytest.approx(x.max()))
    y = RNG.normal(size=1000)
    assert estimate_range(_stats(y), "minmax") == (pytest.approx(y.min()),
                                                   pytest.approx(y.max()))


@pytest.mark.parametrize("p", [99.0, 99.9, 99.99])
def test_percentile_matches_numpy(p):
    x = np.concatenate([RNG.normal(size=200_000), RNG.normal(size=2000) * 20])
    s = _stats(x[:100_000], x[100_000:])
    lo, hi = estimate_range(s, "percentile", p)
    width = 2 * s.bound / BINS
    # within two bins of NumPy's percentiles p -/+ 0.005 points (the tails are sparse)
    for got, q in ((hi, p), (lo, 100 - p)):
        assert np.percentile(x, q - 0.005) - 2 * width <= got
        assert got <= np.percentile(x, q + 0.005) + 2 * width


def test_mse_range_is_near_the_best_range_on_the_real_data():
    # a long-tailed activation (Laplace): clipping the tails pays off
    x = RNG.laplace(size=200_000).astype(np.float32)
    lo, hi = estimate_range(_stats(x), "mse")
    assert x.min() < lo < 0 < hi < x.max()
    best = min(_quant_mse(x, -h, h) for h in np.linspace(1, 14, 200))
    # as good as a brute-force search on the data itself (within 5 %), better than min/max
    assert _quant_mse(x, lo, hi) <= 1.05 * best
    assert _quant_mse(x, lo, hi) < 0.85 * _quant_mse(x, x.min(), x.max())


def test_estimators_refuse_unknown_names_and_empty_stats():
    with pytest.raises(KerasportError, match="unknown range estimator 'kl'"):
        estimate_range(_stats(np.ones(3)), "kl")
    with pytest.raises(KerasportError, match="no calibration data"):
        estimate_range(ValueStats(), "minmax")


def test_recorder_refuses_nan_and_ignores_integers():
    r = RangeRecorder()
    r.observe("ids", np.arange(5))
    assert "ids" not in r.stats
    with pytest.raises(KerasportError, match="'h' holds NaN"):
        r.observe("h", np.array([1.0, np.nan], np.float32))


# -- affine rules ------------------------------------------------------------------------


@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (0.0, 6.0), (-3.7, 0.2), (0.5, 2.0),
                                   (-2.0, -0.5)])
def test_activation_params_represent_zero_and_cover_the_range(lo, hi):
    p = affine.activation_params(lo, hi)
    scale, zero = p.per_tensor
    assert -128 <= zero <= 127
    assert affine.dequantize(affine.quantize(np.zeros(1), p), p)[0] == 0.0
    x = np.linspace(min(lo, 0), max(hi, 0), 1001)
    err = np.abs(affine.dequantize(affine.quantize(x, p), p) - x)
    # inside the range: at most half a step (+ the nudge of the zero point: one step)
    assert err.max() <= 1.0 * scale + 1e-7
    assert scale == pytest.approx((max(hi, 0) - min(lo, 0)) / 255, rel=1e-6)


def test_activation_params_for_a_constant_zero_and_uint8_io():
    p = affine.activation_params(0.0, 0.0)
    assert p.per_tensor[0] > 0
    q = affine.to_uint8(affine.activation_params(-1.0, 1.0))
    assert q.dtype == "uint8" and q.zero_point[0] == affine.activation_params(
        -1.0, 1.0).zero_point[0] + 128
    x = np.linspace(-1, 1, 11)
    i8 = affine.activation_params(-1.0, 1.0)
    assert np.array_equal(affine.dequantize(affine.quantize(x, q), q),
                          affine.dequantize(affine.quantize(x, i8), i8))
    with pytest.raises(KerasportError, match="invalid activation range"):
        affine.activation_params(np.nan, 1.0)


def test_quantize_rounds_half_away_from_zero():
    p = affine.QuantParams((1.0,), (0,))
    assert affine.quantize(np.array([0.5, -0.5, 1.5, -2.5, 200.0]), p).tolist() == \
        [1, -1, 2, -3, 127]


@pytest.mark.parametrize("shape,axis", [((8, 3, 3, 4), 0), ((1, 3, 3, 16), 3), ((10, 32), 0)])
def test_weight_params_symmetric_per_channel(shape, axis):
    w = RNG.normal(size=shape).astype(np.float32) * RNG.uniform(0.01, 5, size=shape[axis]) \
        .reshape([-1 if i == axis else 1 for i in range(len(shape))])
    w[(slice(None),) * axis + (0,)] = 0.0  # an all-zero channel
    q, p = affine.weight_params(w, axis)
    assert q.dtype == np.int8 and q.min() >= -127 and q.max() <= 127
    assert p.axis == axis and len(p.scale) == shape[axis] and set(p.zero_point) == {0}
    back = affine.dequantize(q, p)
    scale = np.asarray(p.scale).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    assert np.all(np.abs(back - w) <= scale / 2 + 1e-7)
    peaks = np.max(np.abs(q), axis=tuple(i for i in range(len(shape)) if i != axis))
    assert peaks[0] == 0 and np.all(peaks[1:] == 127)


def test_bias_params_scale_and_overflow():
    _, wp = affine.weight_params(RNG.normal(size=(4, 6)), 0)
    b = RNG.normal(size=4)
    q, bp = affine.bias_params(b, 0.05, wp)
    assert q.dtype == np.int32
    assert np.allclose(bp.scale, 0.05 * np.asarray(wp.scale), rtol=1e-6)
    assert np.all(np.abs(q * np.asarray(bp.scale) - b) <= np.asarray(bp.scale) / 2 + 1e-9)
    with pytest.raises(KerasportError, match="does not fit int32"):
        affine.bias_params(np.full(4, 1e6), 1e-9, wp)


def test_int8_dense_with_integer_requantization_matches_float():
    """A fully connected layer computed the way TFLite's int8 kernel does (int32 accumulator,
    fixed-point multiplier) agrees with float NumPy within 2 output steps."""
    x = RNG.normal(size=(64, 32)).astype(np.float32)
    w = RNG.normal(size=(32, 10)).astype(np.float32) * 0.3
    b = RNG.normal(size=10).astype(np.float32)
    y = x @ w + b
    pin = affine.activation_params(x.min(), x.max())
    pout = affine.activation_params(y.min(), y.max())
    qw, pw = affine.weight_params(w.T, 0)  # TFLite's (out, in)
    qb, _ = affine.bias_params(b, pin.scale[0], pw)
    qx = affine.quantize(x, pin).astype(np.int64)
    acc = (qx - pin.zero_point[0]) @ qw.T.astype(np.int64) + qb
    out = np.empty_like(acc)
    for c in range(10):
        m, shift = affine.quantize_multiplier(pin.scale[0] * pw.scale[c] / pout.scale[0])
        out[:, c] = affine.multiply_by_quantized_multiplier(acc[:, c], m, shift)
    qy = np.clip(out + pout.zero_point[0], -128, 127)
    got = affine.dequantize(qy, pout)
    assert np.abs(got - y).max() <= 2 * pout.scale[0]


@pytest.mark.parametrize("real", [0.0, 1e-6, 0.0123, 0.5, 0.99999999999, 1.0, 3.7])
def test_quantize_multiplier_round_trip(real):
    m, shift = affine.quantize_multiplier(real)
    assert m == 0 or 2 ** 30 <= m < 2 ** 31
    assert m * 2.0 ** (shift - 31) == pytest.approx(real, rel=1e-9, abs=1e-12)


# -- calibration on an IR graph ------------------------------------------------------------


def _dense_relu_graph():
    b = Builder()
    x = b.input("x", (None, 6), "float32")
    k = b.const("k", RNG.normal(size=(6, 4)))
    bias = b.const("b", RNG.normal(size=4))
    h = b.op("Dense", [x, k, bias], "dense", {}, layer="dense")
    y = b.op("Relu", [h], "relu", {}, layer="relu")
    return b.finish([x], [y], "single", "single", "m", ["relu"])


def test_calibrated_minmax_ranges_are_the_intermediates_extremes():
    g = _dense_relu_graph()
    x = RNG.normal(size=(100, 6)).astype(np.float32)
    ranges = calibrate_ranges(g, [x], "minmax")
    h = x @ g.constants["k"] + g.constants["b"]
    assert ranges["x"] == (pytest.approx(x.min()), pytest.approx(x.max()))
    assert ranges["dense"] == (pytest.approx(min(h.min(), 0), rel=1e-5),
                               pytest.approx(max(h.max(), 0), rel=1e-5))
    assert ranges["relu"] == (0.0, pytest.approx(h.max(), rel=1e-5))
    assert set(ranges) == {"x", "dense", "relu"}  # constants are not activations
    stats = record_statistics(g, [x]).stats
    assert stats["dense"].count == 400


@pytest.mark.parametrize("data,match", [
    (np.zeros((0, 6), np.float32), "holds no samples"),
    (np.zeros((4, 5), np.float32), r"has shape \(4, 5\)"),
    (np.zeros((4, 6), np.int32), "has dtype int32"),
    (np.array([["a"] * 6]), "has dtype <U1"),
    (np.full((4, 6), np.nan, np.float32), "24 NaN or infinite values"),
])
def test_bad_calibration_data_is_refused(data, match):
    with pytest.raises(InputError, match=match):
        calibrate_ranges(_dense_relu_graph(), [data], source="cal.npy")


# -- ranges of intermediate TFLite tensors ----------------------------------------------------


@pytest.mark.parametrize("code,a,b", [("ADD", (-1.0, 2.0), (0.5, 3.0)),
                                      ("SUB", (-1.0, 2.0), (0.5, 3.0)),
                                      ("MUL", (-1.0, 2.0), (-3.0, 0.5)),
                                      ("MAXIMUM", (-1.0, 2.0), (0.5, 3.0)),
                                      ("MINIMUM", (-1.0, 2.0), (0.5, 3.0))])
def test_interval_bounds_every_result(code, a, b):
    """The bound of a binary op contains the op applied to any inputs in the ranges, and is
    reached (tight)."""
    from kerasport.export.tflite.int8.rules import interval

    fn = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "MAXIMUM": np.maximum,
          "MINIMUM": np.minimum}[code]
    x = np.linspace(*a, 101)[:, None]
    y = np.linspace(*b, 101)[None, :]
    z = fn(x, y)
    lo, hi = interval(code, [a, b])
    assert lo == pytest.approx(z.min()) and hi == pytest.approx(z.max())


def test_interval_unary_and_unknown():
    from kerasport.export.tflite.int8.rules import interval

    assert interval("RELU6", [(-3.0, 9.0)]) == (0.0, 6.0)
    assert interval("ABS", [(-3.0, 2.0)]) == (0.0, 3.0)
    assert interval("NEG", [(-3.0, 2.0)]) == (-2.0, 3.0)
    assert interval("RESHAPE", [(-3.0, 2.0)]) == (-3.0, 2.0)
    assert interval("EXP", [(-3.0, 2.0)]) is None
    assert interval("ADD", [(-3.0, 2.0), None]) is None
