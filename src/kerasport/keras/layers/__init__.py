"""Built-in layer converters, one module per layer family (importing registers them)."""

from kerasport.keras.layers import (  # noqa: F401
    activations,
    applications,
    attention,
    augmentation,
    categorical,
    contraction,
    conv,
    conv_recurrent,
    core,
    masking,
    merging,
    normalization,
    pooling,
    preprocessing,
    recurrent,
    reshaping,
)
