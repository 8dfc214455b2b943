"""Convolutions: CONV_2D, DEPTHWISE_CONV_2D, CONV_3D, TRANSPOSE_CONV (1-D ones as 2-D over a
height of 1; 'causal' padding as PAD + 'valid')."""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import (
    TFLiteContext,
    emitter,
)
from kerasport.export.tflite.writer.helpers import (
    const,
    fused_output,
    ints,
    options,
    padding_code,
    read,
    temp,
    tshape,
    write,
)
from kerasport.ir.graph import Node
from kerasport.ops.conv import spatial_pads


def reshape(ctx: TFLiteContext, x: int, shape: list[int | None], out: int | None = None) -> int:
    """RESHAPE tensor ``x`` to IR-style ``shape`` (a free dim as -1); returns the output.
    Several free dims are read at run time, the k-th free output dim being the k-th free
    input dim (SHAPE, CONCATENATION with the known dims, GATHER)."""
    data = ctx.tensors[x].data
    if out is None and data is not None and None not in shape:  # a weight: reshaped here
        return const(ctx, data.reshape(shape), f"{ctx.tensors[x].name}/reshape")
    if out is None:
        out = temp(ctx, f"{ctx.tensors[x].name}/reshape", shape, ctx.tensors[x].dtype)
    if sum(d is None for d in shape) <= 1:
        ctx.op("RESHAPE", [x, ints(ctx, [-1 if d is None else d for d in shape], "shape")],
               [out], options("ReshapeOptions", newShape=[-1 if d is None else d
                                                          for d in shape]))
        return out
    src = tshape(ctx, x)
    free_in = [i for i, d in enumerate(src) if d is None]
    if len(free_in) != sum(d is None for d in shape):
        raise KerasportError(f"layer '{ctx.layer}': cannot reshape {tuple(src)} to "
                             f"{tuple(shape)} in TFLite: its free dims do not correspond")
    # the target shape at run time: GATHER from [SHAPE(x), the known output dims]
    known = [d for d in shape if d is not None]
    picks, k, f = [], 0, iter(free_in)
    for d in shape:
        if d is None:
            picks.append(next(f))
        else:
            picks.append(len(src) + k)
            k += 1
    dyn = temp(ctx, f"{ctx.tensors[x].name}/shape", [len(src)], "int32")
    ctx.op("SHAPE", [x], [dyn], options("ShapeOptions", outType=_int32_type()))
    table = dyn
    if known:
        table = temp(ctx, f"{ctx.tensors[x].name}/dims", [len(src) + len(known)], "int32")
        ctx.op("CONCATENATION", [dyn, ints(ctx, known)], [table],
               options("ConcatenationOptions", axis=0))
    target = temp(ctx, f"{ctx.tensors[x].name}/target", [len(shape)], "int32")
    ctx.op("GATHER", [table, ints(ctx, picks, "picks")], [target],
           options("GatherOptions", axis=0))
    ctx.op("RESHAPE", [x, target], [out], options("ReshapeOptions"))
    return out


def expand(ctx: TFLiteContext, x: int, axis: int) -> int:
    """EXPAND_DIMS: a new axis of size 1 at ``axis`` (any number of free dims)."""
    shape = tshape(ctx, x)
    out = temp(ctx, f"{ctx.tensors[x].name}/expand", [*shape[:axis], 1, *shape[axis:]],
               ctx.tensors[x].dtype)
    ctx.op("EXPAND_DIMS", [x, ints(ctx, [axis], "axis")], [out])
    return out


def squeeze(ctx: TFLiteContext, x: int, axis: int, out: int) -> int:
    """SQUEEZE the size-1 ``axis`` of ``x`` into ``out``."""
    ctx.op("SQUEEZE", [x], [out], options("SqueezeOptions", squeezeDims=[axis]))
    return out


def _bias(ctx: TFLiteContext, node: Node, channels: int) -> int:
    if len(node.inputs) > 2 and node.inputs[2]:
        return read(ctx, node.inputs[2])
    return const(ctx, np.zeros(channels, np.float32), f"{node.outputs[0]}/bias")


def _causal(ctx: TFLiteContext, x: int, node: Node, kernel: np.ndarray) -> int:
    """PAD x (N, W, C) on the left for causal padding."""
    r = kernel.ndim - 2
    pads = spatial_pads([None] * r, kernel.shape[:r], node.attrs.get("strides", (1,) * r),
                        node.attrs.get("dilations", (1,) * r), "causal")
    shape = tshape(ctx, x)
    out_shape = [shape[0]] + [None if d is None else d + b for d, (b, _) in
                              zip(shape[1:-1], pads)] + [shape[-1]]
    out = temp(ctx, f"{node.outputs[0]}/causal_pad", out_shape)
    table = [[0, 0], *[[b, a] for b, a in pads], [0, 0]]
    ctx.op("PAD", [x, const(ctx, np.asarray(table, np.int32), "pads", "int32")], [out])
    return out


def _as_2d(ctx: TFLiteContext, node: Node) -> tuple[int, int | None, bool]:
    """Input tensor of a convolution in 2-D form: (x, padding, one_d). 1-D inputs are
    reshaped (N, W, C) -> (N, 1, W, C); 'causal' padding is done by a PAD."""
    x = read(ctx, node.inputs[0])
    kernel = ctx.const_value(node.inputs[1])
    padding = node.attrs.get("padding", "valid")
    if node.outputs[0] in ctx.same:  # the zero Pad before it was folded (passes.fold_pads)
        padding = "same"
    if padding == "causal":
        x = _causal(ctx, x, node, kernel)
        padding = "valid"
    one_d = kernel.ndim == 3
    if one_d:
        x = expand(ctx, x, 1)
    return x, padding, one_d


def _params(node: Node, one_d: bool) -> tuple[list[int], list[int]]:
    strides = list(node.attrs.get("strides", (1, 1)))
    dilations = list(node.attrs.get("dilations", (1, 1)))
    if one_d:
        strides, dilations = [1, *strides], [1, *dilations]
    return strides, dilations


def _finish(ctx: TFLiteContext, node: Node, one_d: bool, code: str, inputs: list[int],
            opts) -> None:
    out, act = fused_output(ctx, node.outputs[0])
    opts.fusedActivationFunction = act
    if not one_d:
        ctx.op(code, inputs, [out], opts)
        return
    shape = tshape(ctx, out)
    mid = temp(ctx, f"{node.outputs[0]}/2d", [shape[0], 1, *shape[1:]])
    ctx.op(code, inputs, [mid], opts)
    squeeze(ctx, mid, 1, out)


def _require_const_kernel(ctx: TFLiteContext, node: Node) -> None:
    if not ctx.is_const(node.inputs[1]):
        raise KerasportError(f"layer '{node.layer}': {node.op} with a computed kernel has no "
                             "TFLite form (the kernel must be a weight)")


@emitter("Conv", fuses=True)
def conv(ctx: TFLiteContext, node: Node) -> None:
    """Keras kernel (*k, C/groups, F) -> CONV_2D filter (F, kh, kw, C) or CONV_3D (as Keras)."""
    _require_const_kernel(ctx, node)
    kernel = ctx.const_value(node.inputs[1])
    groups = node.attrs.get("groups", 1)
    cin, cout = kernel.shape[-2] * groups, kernel.shape[-1]
    if kernel.ndim == 5:
        if groups > 1:
            raise KerasportError(f"layer '{node.layer}': grouped 3-D convolution has no "
                                 "TFLite form")
        return _conv3d(ctx, node, kernel)
    x, padding, one_d = _as_2d(ctx, node)
    k2 = kernel[None] if one_d else kernel
    strides, dilations = _params(node, one_d)
    if groups > 1 and not (cin == groups and cout == groups):
        _grouped(ctx, node, x, k2, padding, one_d)
        return None
    if groups > 1:  # one channel per group: depthwise
        filt = k2.reshape(1, *k2.shape[:2], cout)
        opts = options("DepthwiseConv2DOptions", padding=padding_code(padding),
                       strideH=strides[0], strideW=strides[1], depthMultiplier=1,
                       dilationHFactor=dilations[0], dilationWFactor=dilations[1])
        w = const(ctx, filt, f"{node.inputs[1]}/dw")
        _finish(ctx, node, one_d, "DEPTHWISE_CONV_2D", [x, w, _bias(ctx, node, cout)], opts)
        return None
    w = const(ctx, np.transpose(k2, (3, 0, 1, 2)), f"{node.inputs[1]}/ohwi")
    opts = options("Conv2DOptions", padding=padding_code(padding), strideH=strides[0],
                   strideW=strides[1], dilationHFactor=dilations[0],
                   dilationWFactor=dilations[1])
    _finish(ctx, node, one_d, "CONV_2D", [x, w, _bias(ctx, node, cout)], opts)
    return None


def _grouped(ctx: TFLiteContext, node: Node, x: int, k2: np.ndarray, padding: str,
             one_d: bool) -> None:
    """A grouped convolution as SPLIT of the channels, one CONV_2D per group and a
    CONCATENATION (LiteRT's CONV_2D kernels do not all take groups)."""
    groups = node.attrs.get("groups", 1)
    strides, dilations = _params(node, one_d)
    og = k2.shape[-1] // groups
    bias = (ctx.const_value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2]
            else np.zeros(k2.shape[-1], np.float32))
    xs = tshape(ctx, x)
    parts = [temp(ctx, f"{node.outputs[0]}/group{g}_in", [*xs[:-1], xs[-1] // groups])
             for g in range(groups)]
    ctx.op("SPLIT", [ints(ctx, [3], "axis"), x], parts, options("SplitOptions",
                                                               numSplits=groups))
    out_shape = list(ctx.shape(node.outputs[0]))
    mid_shape = [out_shape[0], 1, *out_shape[1:]] if one_d else out_shape
    # a fused Relu goes on each group's CONV_2D: LiteRT's float CONCATENATION ignores one
    out, act = fused_output(ctx, node.outputs[0])
    outs = []
    for g, part in enumerate(parts):
        w = const(ctx, np.transpose(k2[..., g * og:(g + 1) * og], (3, 0, 1, 2)),
                  f"{node.inputs[1]}/group{g}")
        b = const(ctx, bias[g * og:(g + 1) * og], f"{node.outputs[0]}/group{g}_bias")
        y = temp(ctx, f"{node.outputs[0]}/group{g}", [*mid_shape[:-1], og])
        ctx.op("CONV_2D", [part, w, b], [y], options(
            "Conv2DOptions", padding=padding_code(padding), strideH=strides[0],
            strideW=strides[1], dilationHFactor=dilations[0], dilationWFactor=dilations[1],
            fusedActivationFunction=act))
        outs.append(y)
    cat = out if not one_d else temp(ctx, f"{node.outputs[0]}/2d", mid_shape)
    ctx.op("CONCATENATION", outs, [cat], options("ConcatenationOptions", axis=3))
    if one_d:
        squeeze(ctx, cat, 1, out)


def _conv3d(ctx: TFLiteContext, node: Node, kernel: np.ndarray) -> None:
    x = read(ctx, node.inputs[0])
    padding = node.attrs.get("padding", "valid")
    s = list(node.attrs.get("strides", (1, 1, 1)))
    d = list(node.attrs.get("dilations", (1, 1, 1)))
    opts = options("Conv3DOptions", padding=padding_code(padding), strideD=s[0], strideH=s[1],
                   strideW=s[2], dilationDFactor=d[0], dilationHFactor=d[1],
                   dilationWFactor=d[2])
    out, act = fused_output(ctx, node.outputs[0])
    opts.fusedActivationFunction = act
    ctx.op("CONV_3D", [x, read(ctx, node.inputs[1]), _bias(ctx, node, kernel.shape[-1])],
           [out], opts)


@emitter("DepthwiseConv", fuses=True)
def depthwise(ctx: TFLiteContext, node: Node) -> None:
    """Keras kernel (kh, kw, C, M) -> DEPTHWISE_CONV_2D filter (1, kh, kw, C*M)."""
    _require_const_kernel(ctx, node)
    kernel = ctx.const_value(node.inputs[1])
    if kernel.ndim not in (3, 4):
        raise KerasportError(f"layer '{node.layer}': {kernel.ndim - 2}-D depthwise "
                             "convolution has no TFLite operator")
    x, padding, one_d = _as_2d(ctx, node)
    k2 = kernel[None] if one_d else kernel
    c, m = k2.shape[-2], k2.shape[-1]
    strides, dilations = _params(node, one_d)
    w = const(ctx, k2.reshape(1, *k2.shape[:2], c * m), f"{node.inputs[1]}/dw")
    opts = options("DepthwiseConv2DOptions", padding=padding_code(padding), strideH=strides[0],
                   strideW=strides[1], depthMultiplier=m, dilationHFactor=dilations[0],
                   dilationWFactor=dilations[1])
    _finish(ctx, node, one_d, "DEPTHWISE_CONV_2D", [x, w, _bias(ctx, node, c * m)], opts)


def _transpose_out_shape(ctx: TFLiteContext, node: Node, x: int, one_d: bool) -> int:
    """TRANSPOSE_CONV's output_shape input: constant, or with the batch read at run time."""
    shape = list(ctx.shape(node.outputs[0]))
    if one_d:
        shape = [shape[0], 1, *shape[1:]]
    if None in shape[1:]:
        raise KerasportError(f"layer '{node.layer}': a transposed convolution needs known "
                             "spatial sizes in TFLite")
    if shape[0] is not None or ctx.batch_size:
        return ints(ctx, [shape[0] or ctx.batch_size, *shape[1:]], "output_shape")
    dyn = temp(ctx, f"{node.outputs[0]}/in_shape", [4], "int32")
    ctx.op("SHAPE", [x], [dyn], options("ShapeOptions", outType=_int32_type()))
    batch = temp(ctx, f"{node.outputs[0]}/batch", [1], "int32")
    ctx.op("STRIDED_SLICE", [dyn, ints(ctx, [0]), ints(ctx, [1]), ints(ctx, [1])], [batch],
           options("StridedSliceOptions"))
    out = temp(ctx, f"{node.outputs[0]}/output_shape", [4], "int32")
    ctx.op("CONCATENATION", [batch, ints(ctx, shape[1:])], [out],
           options("ConcatenationOptions", axis=0))
    return out


def _int32_type() -> int:
    from kerasport.export.tflite.writer.helpers import schema

    return schema().TensorType.INT32


@emitter("ConvTranspose", fuses=True)
def conv_transpose(ctx: TFLiteContext, node: Node) -> None:
    """Keras kernel (kh, kw, F, C) -> TRANSPOSE_CONV weights (F, kh, kw, C), output_shape
    given (Keras' output size, output_padding included); 'same'/'valid' as TensorFlow's
    conv2d_transpose, which Keras calls."""
    _require_const_kernel(ctx, node)
    kernel = ctx.const_value(node.inputs[1])
    if kernel.ndim not in (3, 4) or any(d != 1 for d in node.attrs.get("dilations", (1,))):
        raise KerasportError(f"layer '{node.layer}': only 1-D and 2-D transposed "
                             "convolutions without dilation have a TFLite operator")
    one_d = kernel.ndim == 3
    x = read(ctx, node.inputs[0])
    strides = list(node.attrs.get("strides", (1, 1)))
    if one_d:
        x, kernel, strides = expand(ctx, x, 1), kernel[None], [1, *strides]
    w = const(ctx, np.transpose(kernel, (2, 0, 1, 3)), f"{node.inputs[1]}/ohwi")
    shape = _transpose_out_shape(ctx, node, x, one_d)
    opts = options("TransposeConvOptions", padding=padding_code(node.attrs.get("padding")),
                   strideH=strides[0], strideW=strides[1])
    out, act = fused_output(ctx, node.outputs[0])
    opts.fusedActivationFunction = act
    inputs = [shape, w, x, _bias(ctx, node, kernel.shape[-2])]
    if not one_d:
        ctx.op("TRANSPOSE_CONV", inputs, [out], opts)
        return
    o = tshape(ctx, out)
    mid = temp(ctx, f"{node.outputs[0]}/2d", [o[0], 1, *o[1:]])
    ctx.op("TRANSPOSE_CONV", inputs, [mid], opts)
    squeeze(ctx, mid, 1, out)


@emitter("SpatialPad")
def spatial_pad(ctx: TFLiteContext, node: Node) -> None:
    """PAD (zeros) or PADV2 (``value``) of the spatial axes."""
    table = [[0, 0], *[list(m) for m in node.attrs.get("margins", ((0, 0),))], [0, 0]]
    pads = const(ctx, np.asarray(table, np.int32), "pads", "int32")
    value = float(node.attrs.get("value", 0.0))
    x = read(ctx, node.inputs[0])
    if value == 0.0:
        ctx.op("PAD", [x, pads], [write(ctx, node.outputs[0])])
    else:
        ctx.op("PADV2", [x, pads, const(ctx, np.asarray([value], np.float32), "value")],
               [write(ctx, node.outputs[0])])
