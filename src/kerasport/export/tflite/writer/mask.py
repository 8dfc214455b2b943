"""Keras masks: not carried into TFLite files yet (models without masking convert)."""

from __future__ import annotations

from kerasport.export.tflite.writer.context import unavailable

_WHY = "Keras masking (mask_zero, Masking) is not lowered to TFLite yet"
for _op in ("MaskNotEqual", "ApplyMask", "MaskedMean", "MaskReduce", "MaskLogical"):
    unavailable(_op, _WHY)
unavailable("Fill", "zeros_like / ones_like (Fill) is not lowered to TFLite yet")
