"""Preprocessing layers: table lookups, hashing and encodings stay in the input pipeline."""

from __future__ import annotations

from kerasport.export.tflite.writer.context import unavailable

unavailable("Bucketize", "TFLite's BUCKETIZE is not emitted yet")
unavailable("Lookup", "integer lookup tables have no TFLite builtin (hashtables are Flex-like)")
unavailable("CategoryEncode", "one-hot / multi-hot encodings are not lowered to TFLite yet")
unavailable("AutoContrast", "AutoContrast is not lowered to TFLite yet")
unavailable("FarmHash", "FarmHash string/int hashing has no TFLite builtin")
