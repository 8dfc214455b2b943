"""Core layers: Dense, and the layers that are the identity at inference."""

from __future__ import annotations

from kerasport.keras.registry import LayerContext, register_converter

IDENTITY_AT_INFERENCE = (
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity",
)


@register_converter(*IDENTITY_AT_INFERENCE, cast_inputs=False, mask="pass")
def convert_identity(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Regularisation layers do nothing at inference."""
    return [inputs[0]]


@register_converter("Dense", mask="pass")
def convert_dense(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Dense(units, activation, use_bias) on inputs of any rank (contracts the last axis)."""
    cfg = ctx.config
    ctx.require(not cfg.get("lora_rank"), "lora_rank", "LoRA-enabled Dense is not supported",
                "merge the LoRA weights (layer.enable_lora is training-only) and save again")
    ctx.require(cfg.get("quantization_config") in (None, {}), "quantization_config",
                "Keras-quantized Dense is not supported", "save the float model")
    shape = ctx.shape(inputs[0])
    units = int(cfg["units"])
    n_in = shape[-1] if shape else None
    names = ["kernel", "bias"] if cfg.get("use_bias", True) else ["kernel"]
    weights = ctx.weights_as(names, [(n_in, units) if n_in else None, (units,)])
    y = ctx.op("Dense", [inputs[0], *(ctx.const(n, w) for n, w in zip(names, weights))],
               "dense" if cfg.get("activation") not in (None, "linear") else None)
    return [ctx.activation(y, cfg.get("activation"), None)]
