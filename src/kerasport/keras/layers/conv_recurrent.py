"""Convolutional recurrent layers: ConvLSTM1D, ConvLSTM2D and ConvLSTM3D."""

from __future__ import annotations

from kerasport.keras.activation_table import activation_spec
from kerasport.keras.layers._util import ints
from kerasport.keras.layers.recurrent import (
    check_rnn_config,
    initial_states,
    sequence_mask,
)
from kerasport.keras.registry import LayerContext, register_converter


@register_converter("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", mask="own")
def convert_conv_lstm(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """ConvLSTM1D/2D/3D: an LSTM whose products are convolutions ([y] or [y, h, c]).

    Options: strides, padding, dilation_rate, activations, use_bias, return_sequences,
    return_state, go_backwards, initial_state and masks."""
    ctx.channels_last()
    cfg = ctx.config
    check_rnn_config(ctx, cfg)
    r = int(ctx.class_name[-2])
    shape = ctx.shape(inputs[0])
    ctx.require(shape is not None and len(shape) == r + 3 and shape[-1] is not None, None,
                f"the input must be (batch, time, {r} spatial dims, channels)")
    filters = int(cfg["filters"])
    ksize = ints(cfg["kernel_size"], r)
    padding = str(cfg.get("padding", "valid")).lower()
    ctx.require(padding in ("valid", "same"), "padding", f"padding='{padding}' is not supported")
    names = ["kernel", "recurrent_kernel"] + (["bias"] if cfg.get("use_bias", True) else [])
    shapes = [(*ksize, shape[-1], 4 * filters), (*ksize, filters, 4 * filters), (4 * filters,)]
    weights = ctx.weights_as(names, shapes)
    args = [inputs[0]] + [ctx.const(n, w) for n, w in zip(names, weights)]
    if len(weights) == 2:
        args.append("")
    states = initial_states(ctx, inputs)
    ctx.require(len(states) in (0, 2), None, f"ConvLSTM takes 2 initial states, got {len(states)}")
    args += states or ["", ""]
    mask = ctx.input_masks[0] if ctx.input_masks else None
    if mask:
        args.append(mask)
    outs = ctx.op("ConvLSTM", args, n_out=3, strides=ints(cfg.get("strides", 1), r),
                  dilations=ints(cfg.get("dilation_rate", 1), r), padding=padding,
                  activation=activation_spec(cfg.get("activation", "tanh"), ctx.keras_major),
                  recurrent_activation=activation_spec(
                      cfg.get("recurrent_activation", "sigmoid"), ctx.keras_major),
                  return_sequences=bool(cfg.get("return_sequences", False)),
                  go_backwards=bool(cfg.get("go_backwards", False)))
    outs = list(outs) if cfg.get("return_state") else [outs[0]]
    sequence_mask(ctx, bool(cfg.get("return_sequences")), len(outs))
    return outs
