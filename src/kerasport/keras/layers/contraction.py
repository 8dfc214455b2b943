"""Tensor-contraction layers: EinsumDense and Dot, and the einsum projection of Keras'
EinsumDense that MultiHeadAttention uses for its query/key/value/output projections.
"""

from __future__ import annotations

import numpy as np

from kerasport.keras.registry import LayerContext, register_converter


def letters(n: int, start: int = 0) -> str:
    """``n`` consecutive einsum letters from the ``start``-th ('a' = 0)."""
    return "".join(chr(ord("a") + start + i) for i in range(n))


def einsum_dense(ctx: LayerContext, x: str, w: dict[str, np.ndarray], x_rank: int,
                  bound: int, name: str) -> str:
    """Keras' MHA projection: the last ``bound`` axes of x contract with the kernel."""
    kernel = w["kernel"]
    free = x_rank - bound
    n_out = kernel.ndim - bound
    xs = letters(free + bound)
    ks = xs[free:] + letters(n_out, free + bound)
    eq = f"{xs},{ks}->{xs[:free]}{ks[bound:]}"
    y = ctx.op("Einsum", [x, ctx.const(f"{name}/kernel", kernel)], name, equation=eq)
    if "bias" in w:
        y = ctx.op("Add", [y, ctx.const(f"{name}/bias", w["bias"])], f"{name}/biased")
    return y


# -- EinsumDense, Dot --------------------------------------------------------------------------
@register_converter("EinsumDense", mask="pass")
def convert_einsum_dense(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """EinsumDense: einsum(equation, x, kernel) (+ bias, broadcast as stored) + activation."""
    cfg = ctx.config
    ctx.require(not cfg.get("lora_rank"), "lora_rank", "LoRA-enabled EinsumDense is not "
                "supported", "merge the LoRA weights and save again")
    ctx.require(cfg.get("quantization_config") in (None, {}), "quantization_config",
                "Keras-quantized EinsumDense is not supported", "save the float model")
    names = ["kernel", "bias"] if cfg.get("bias_axes") else ["kernel"]
    weights = ctx.weights_as(names)
    act = cfg.get("activation")
    linear = act in (None, "linear")
    y = ctx.op("Einsum", [inputs[0], ctx.const("kernel", weights[0])],
               None if linear and len(weights) == 1 else "einsum", equation=str(cfg["equation"]))
    if len(weights) > 1:
        y = ctx.op("Add", [y, ctx.const("bias", weights[1])], None if linear else "biased")
    return [ctx.activation(y, act, None)]


@register_converter("Dot", mask="drop")
def convert_dot(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Dot(axes, normalize): Keras' batch_dot of two inputs (one contracted axis each)."""
    ctx.require(len(inputs) == 2, None, "Dot takes exactly two inputs")
    ranks = [ctx.rank(v) for v in inputs]
    axes_cfg = ctx.config.get("axes", -1)
    if isinstance(axes_cfg, int):
        axes = [axes_cfg % r if axes_cfg < 0 else axes_cfg for r in ranks]
    else:
        axes = [a % r if a < 0 else a for a, r in zip(axes_cfg, ranks)]
    ctx.require(0 not in axes, "axes", "Dot cannot contract the batch axis")
    x, y = inputs
    if ctx.config.get("normalize"):
        eps = 1e-7 if ctx.keras_major >= 3 else 1e-6
        x = ctx.op("L2Normalize", [x], "normalized_x", axes=[axes[0]], epsilon=eps)
        y = ctx.op("L2Normalize", [y], "normalized_y", axes=[axes[1]], epsilon=eps)
    xs = letters(ranks[0])
    ys = "a" + letters(ranks[1] - 1, ranks[0])
    ys = ys[:axes[1]] + xs[axes[0]] + ys[axes[1] + 1:]
    out = xs[:axes[0]] + xs[axes[0] + 1:] + "".join(
        c for i, c in enumerate(ys) if i not in (0, axes[1]))
    both2 = ranks == [2, 2]
    z = ctx.op("Einsum", [x, y], "dot" if both2 else None, equation=f"{xs},{ys}->{out}")
    if both2:
        z = ctx.op("Reshape", [z], None, shape=[1])
    return [z]
