"""Matrix-product kernels."""

from __future__ import annotations

from kerasport.ir.ops import kernel


@kernel("Dense")
def Dense(x, kernel, bias=None):
    """x @ kernel (+ bias) over the last axis of x; any rank.

    Leading axes are flattened into one matrix product: NumPy runs ``x @ kernel`` on a 3-D
    ``x`` as many small products, many times slower."""
    y = x.reshape((-1, x.shape[-1])) @ kernel
    if bias is not None:
        y += bias
    return y.reshape((*x.shape[:-1], kernel.shape[-1]))
