"""Matrix-product kernels."""

from __future__ import annotations

from kerasport.ir.ops import kernel


@kernel("Dense")
def Dense(x, kernel, bias=None):
    """x @ kernel (+ bias) over the last axis of x; any rank."""
    y = x @ kernel
    if bias is not None:
        y += bias
    return y
