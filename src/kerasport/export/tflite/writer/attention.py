"""Attention: the products are MatMul (BATCH_MATMUL, in linalg); the masked softmax has no
TFLite form yet."""

from __future__ import annotations

from kerasport.export.tflite.writer.context import unavailable

unavailable("MaskedSoftmax", "masked or causal attention softmax is not lowered to TFLite yet "
            "(unmasked attention is)")
