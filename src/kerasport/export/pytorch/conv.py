"""Convolutions as nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d, channels-first.

Keras 'same' padding with stride 1 is torch's ``padding="same"`` (both put the odd pixel
after); with a stride it is an explicit ``same_pad`` call before the layer; 'causal' is a left
pad. Transposed convolutions run unpadded and their output is cropped to Keras' length."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import emitter, py, pylist, torch_weight_conv
from kerasport.ir.graph import Node
from kerasport.ops.conv import transpose_out_size


def _weights(ctx: ModuleContext, node: Node, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    kernel = node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    for name in (kernel, bias):
        if name and not ctx.is_const(name):
            raise KerasportError(f"layer '{node.layer}': a {what} whose weights are computed "
                                 "(not stored) has no PyTorch layer form")
    return ctx.const(kernel), (ctx.const(bias) if bias else None)


def _padded_input(ctx: ModuleContext, node: Node, r: int, ksize: tuple, a: dict) -> tuple[str, str]:
    """The input variable (padded when needed) and the ``padding=`` argument of the layer."""
    x = ctx.get(node.inputs[0], "cf")
    strides, dilations = tuple(a["strides"]), tuple(a["dilations"])
    padding = a["padding"]
    if padding == "valid":
        return x, "0"
    if padding == "causal":
        left = [(k - 1) * d for k, d in zip(ksize, dilations)]
        pads = [p for lp in reversed(left) for p in (lp, 0)]
        expr = f"F.pad({x}, {pylist(pads)})"
    elif all(s == 1 for s in strides):
        return x, "'same'"
    else:
        fn = ctx.helper("same_pad")
        expr = f"{fn}({x}, {pylist(ksize)}, {pylist(strides)}, {pylist(dilations)})"
    var = ctx.vars.new(f"{node.layer or node.op}_padded")
    ctx.line(f"{var} = {expr}")
    return var, "0"


@emitter("Conv", "DepthwiseConv")
def emit_conv(ctx: ModuleContext, node: Node) -> None:
    """nn.ConvNd(in, out, kernel_size, stride, padding, dilation, groups, bias)."""
    kernel, bias = _weights(ctx, node, "convolution")
    a = ctx.attrs(node)
    r = kernel.ndim - 2
    if r not in (1, 2, 3):
        raise KerasportError(f"layer '{node.layer}': a {r}-d convolution has no torch layer")
    ksize = tuple(int(k) for k in kernel.shape[:r])
    if node.op == "DepthwiseConv":
        c, m = kernel.shape[-2], kernel.shape[-1]
        groups, cin, cout = c, c, c * m
        weight = np.ascontiguousarray(
            np.moveaxis(kernel.reshape(*ksize, c * m), -1, 0)[:, None])
    else:
        groups = int(a.get("groups", 1))
        cin, cout = kernel.shape[-2] * groups, kernel.shape[-1]
        weight = torch_weight_conv(kernel)
    x, padding = _padded_input(ctx, node, r, ksize, a)
    args = [str(cin), str(cout), f"kernel_size={py(ksize)}"]
    if any(s != 1 for s in a["strides"]):
        args.append(f"stride={py(tuple(a['strides']))}")
    if padding != "0":
        args.append(f"padding={padding}")
    if any(d != 1 for d in a["dilations"]):
        args.append(f"dilation={py(tuple(a['dilations']))}")
    if groups != 1:
        args.append(f"groups={groups}")
    weights = {"weight": weight.astype(np.float32)}
    if bias is None:
        args.append("bias=False")
    else:
        weights["bias"] = bias.astype(np.float32)
    mod = ctx.module(node, f"nn.Conv{r}d({', '.join(args)})", weights)
    ctx.assign(node, f"{mod}({x})", "cf")


@emitter("ConvTranspose")
def emit_conv_transpose(ctx: ModuleContext, node: Node) -> None:
    """nn.ConvTransposeNd without padding, then Keras' output length: cropped (the odd pixel
    after, as TensorFlow) or extended through ``output_padding``."""
    kernel, bias = _weights(ctx, node, "transposed convolution")
    a = ctx.attrs(node)
    r = kernel.ndim - 2
    ksize = tuple(int(k) for k in kernel.shape[:r])
    f, c = kernel.shape[-2], kernel.shape[-1]
    strides, dilations = tuple(a["strides"]), tuple(a["dilations"])
    out_pads = a.get("output_padding") or [None] * r
    crops, extra = [], []
    for k, s, d, op in zip(ksize, strides, dilations, out_pads):
        size = 16 * s  # the crop does not depend on the input length
        full = (size - 1) * s + (k - 1) * d + 1
        out = transpose_out_size(size, k, s, d, a["padding"], op)
        before = 0 if a["padding"] == "valid" else max(full - out, 0) // 2
        crops.append((before, full - before - out) if full >= out else (0, 0))
        extra.append(max(out - full, 0))
    if any(e >= max(s, d) for e, s, d in zip(extra, strides, dilations)):
        raise KerasportError(f"layer '{node.layer}': this output_padding has no "
                             "ConvTranspose form in torch")
    args = [str(c), str(f), f"kernel_size={py(ksize)}"]
    if any(s != 1 for s in strides):
        args.append(f"stride={py(strides)}")
    if any(extra):
        args.append(f"output_padding={py(tuple(extra))}")
    if any(d != 1 for d in dilations):
        args.append(f"dilation={py(dilations)}")
    weights = {"weight": torch_weight_conv(kernel).astype(np.float32)}
    if bias is None:
        args.append("bias=False")
    else:
        weights["bias"] = bias.astype(np.float32)
    mod = ctx.module(node, f"nn.ConvTranspose{r}d({', '.join(args)})", weights)
    expr = f"{mod}({ctx.get(node.inputs[0], 'cf')})"
    if any(b or e for b, e in crops):
        sl = ", ".join(f"{b}:{-e if e else ''}" for b, e in crops)
        expr = f"{expr}[:, :, {sl}]"
    ctx.assign(node, expr, "cf")


@emitter("SpatialPad")
def emit_spatial_pad(ctx: ModuleContext, node: Node) -> None:
    """F.pad of the spatial axes, channels-first (before a convolution or a pool)."""
    a = ctx.attrs(node)
    x = ctx.get(node.inputs[0], "cf")
    pads = [int(p) for pair in reversed(list(a["margins"])) for p in pair]
    value = float(a.get("value", 0.0))
    tail = f", value={py(value)}" if value else ""
    ctx.assign(node, f"F.pad({x}, {pylist(pads)}{tail})", "cf")
