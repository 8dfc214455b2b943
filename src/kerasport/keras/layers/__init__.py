"""Built-in layer converters, one module per layer family (importing registers them)."""

from kerasport.keras.layers import (  # noqa: F401
    activations,
    applications,
    conv,
    core,
    merging,
    normalization,
    pooling,
    preprocessing,
    reshaping,
)
