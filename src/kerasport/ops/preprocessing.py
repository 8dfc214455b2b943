"""Kernels of the preprocessing layers: Discretization (Bucketize), IntegerLookup (Lookup),
the one-hot / multi-hot / count encodings (CategoryEncode) and AutoContrast."""

from __future__ import annotations

import numpy as np

from kerasport.ops.common import same_shape
from kerasport.ops.registry import op


@op("Bucketize", shape=same_shape)
def Bucketize(x, boundaries, dtype="int32"):
    """The bin of each element: how many ``boundaries`` (sorted) are <= x."""
    return np.searchsorted(boundaries, x, side="right").astype(dtype)


@op("Lookup", shape=same_shape)
def Lookup(x, keys, values, default=-1, oov_buckets=0, oov_start=0, dtype="int64"):
    """values[i] where x == keys[i] (``keys`` sorted); elsewhere ``default``, or with
    ``oov_buckets`` > 0, oov_start + floormod(x, oov_buckets)."""
    x = x.astype(keys.dtype, copy=False)
    pos = np.minimum(np.searchsorted(keys, x), max(keys.size - 1, 0))
    found = keys[pos] == x if keys.size else np.zeros(x.shape, bool)
    miss = oov_start + np.mod(x, oov_buckets) if oov_buckets else default
    hit = values[pos] if values.size else 0
    return np.where(found, hit, miss).astype(dtype)


def _category_encode(shapes, depth=1, mode="one_hot", dtype="float32"):
    """one_hot: (*x, depth); multi_hot and count: (*x[:-1], depth)."""
    x = shapes[0]
    if x is None:
        return [None]
    return [(*x, depth) if mode == "one_hot" else (*x[:-1], depth)]


@op("CategoryEncode", shape=_category_encode)
def CategoryEncode(x, depth=1, mode="one_hot", dtype="float32"):
    """Integer ids as vectors of ``depth``: "one_hot" appends an axis with a 1 at each id;
    "multi_hot" (1 for each id present) and "count" (how many times) reduce the last axis.
    Ids outside [0, depth) count nowhere."""
    x = x.astype(np.int64, copy=False)
    lead = x.shape if mode == "one_hot" else x.shape[:-1]
    rows = x.reshape(int(np.prod(lead)), 1 if mode == "one_hot" else x.shape[-1])
    valid = (rows >= 0) & (rows < depth)
    out = np.zeros((rows.shape[0], depth), dtype)
    r = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)
    if mode == "count":
        np.add.at(out, (r[valid], rows[valid]), 1)
    else:
        out[r[valid], rows[valid]] = 1
    return out.reshape((*lead, depth))


@op("AutoContrast", shape=same_shape)
def AutoContrast(x, value_range=(0.0, 255.0)):
    """Keras' AutoContrast: each image's channels stretched so that their min and max span
    ``value_range`` (computed on the 0..255 scale); constant channels are left as they are."""
    lo, hi = np.float32(value_range[0]), np.float32(value_range[1])
    full = np.float32(255.0)
    scaled = (lo, hi) != (0, 255)
    y = (x - lo) / (hi - lo) * full if scaled else x
    low = y.min(axis=(1, 2), keepdims=True)
    high = y.max(axis=(1, 2), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = full / (high - low)
        y = np.clip(y * scale + -low * scale, np.float32(0), full)
    y = y / full * (hi - lo) + lo if scaled else y
    return np.where(np.isnan(y), x, y).astype(x.dtype, copy=False)


# FarmHash64 (farmhashna), the fingerprint TensorFlow's to_hash_bucket_fast takes of strings;
# Keras' Hashing hashes the decimal form of integers, at most 20 bytes (so two of its paths).
_MASK64 = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _rotate(v, shift):
    return ((v >> shift) | (v << (64 - shift))) & _MASK64


def _hash16(u, v, mul):
    a = ((u ^ v) * mul) & _MASK64
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK64
    b ^= b >> 47
    return (b * mul) & _MASK64


def _fingerprint64(s):
    """FarmHash64 of the bytes ``s`` (up to 32 bytes)."""
    n = len(s)
    words = [int.from_bytes(s[i:i + 8], "little") for i in (0, 8, n - 16, n - 8) if i >= 0]
    mul = (_K2 + 2 * n) & _MASK64
    if n > 16:
        a = (words[0] * _K1) & _MASK64
        b, d = words[1], (words[2] * _K2) & _MASK64
        c = (words[3] * mul) & _MASK64
        return _hash16((_rotate((a + b) & _MASK64, 43) + _rotate(c, 30) + d) & _MASK64,
                       (a + _rotate((b + _K2) & _MASK64, 18) + c) & _MASK64, mul)
    if n >= 8:
        a, b = (words[0] + _K2) & _MASK64, words[-1]
        return _hash16((_rotate(b, 37) * mul + a) & _MASK64,
                       ((_rotate(a, 25) + b) * mul) & _MASK64, mul)
    if n >= 4:
        first, last = int.from_bytes(s[:4], "little"), int.from_bytes(s[n - 4:], "little")
        return _hash16((n + (first << 3)) & _MASK64, last, mul)
    if n:
        y, z = s[0] + (s[n >> 1] << 8), n + (s[n - 1] << 2)
        v = ((y * _K2) ^ (z * _K0)) & _MASK64
        return ((v ^ (v >> 47)) * _K2) & _MASK64
    return _K2


@op("FarmHash", shape=same_shape)
def FarmHash(x, num_bins=1, mask_value=None, dtype="int64"):
    """Keras' Hashing of numbers: FarmHash64 of each value's decimal form (floats truncated to
    int64 first) modulo ``num_bins``; with ``mask_value``, bin 0 is that value's and the
    others hash into bins 1..num_bins-1."""
    masked = mask_value is not None and num_bins > 1
    bins = num_bins - 1 if masked else num_bins
    unique, where = np.unique(x.astype(np.int64).reshape(-1), return_inverse=True)
    hashed = np.array([_fingerprint64(str(int(v)).encode()) % bins for v in unique], np.int64)
    out = hashed[where].reshape(x.shape)
    if masked:
        out = np.where(x == mask_value, 0, out + 1)
    return out.astype(dtype)
