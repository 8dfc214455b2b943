"""NumPy kernels, one module per op family. Importing this package registers them all."""

from kerasport.runtime.kernels import (  # noqa: F401
    activations,
    attention,
    conv,
    elementwise,
    linalg,
    mask,
    norm,
    pool,
    preprocessing,
    recurrent,
    resize,
    shape,
)
