"""Smaller weight storage: float16, and int8 with one symmetric scale per output channel."""

from kerasport.quantize.weights import (
    WEIGHT_MODES,
    dequantize,
    quantizable_constants,
    quantize_constants,
)

__all__ = ["WEIGHT_MODES", "dequantize", "quantizable_constants", "quantize_constants"]
