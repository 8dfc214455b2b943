"""What the TFLite emitters share: the one function that makes every tensor (``tensor``), IR
values as tensors (``read``/``write``), constants, fused activations and padding codes.

Quantization: ``tensor`` takes an optional ``Quant`` (scale/zero-point arrays and the
quantized dimension) and a dtype, so quantized tensors go through the same place as float ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.writer.context import Quant, Tensor, TFLiteContext

# IR dtype names TFLite tensors can hold
DTYPES = ("float32", "float16", "int32", "uint8", "int64", "bool", "int8", "int16")


def tflite_shape(ctx: TFLiteContext, shape: Sequence[int | None]) -> tuple[list[int],
                                                                           list[int] | None]:
    """(shape, shape_signature) of an IR shape: a free batch is 1 in the shape and -1 in the
    signature (or the fixed batch size); other free dims likewise 1 / -1."""
    dims, sig = [], []
    for i, d in enumerate(shape):
        if d is None and i == 0 and ctx.batch_size:
            d = ctx.batch_size
        dims.append(1 if d is None else int(d))
        sig.append(-1 if d is None else int(d))
    return dims, (sig if -1 in sig else None)


def tensor(ctx: TFLiteContext, name: str, shape: Sequence[int | None], dtype: str = "float32",
           data: np.ndarray | None = None, quant: Quant | None = None,
           variable: bool = False) -> int:
    """Add one tensor (every tensor of the file is made here); returns its index.

    ``shape`` is IR-style (None for free dims); ``data`` makes it a constant (cast to
    ``dtype``); ``quant`` gives its quantization parameters."""
    if dtype not in DTYPES:
        raise KerasportError(f"layer '{ctx.layer}': dtype {dtype} has no TFLite tensor type")
    dims, sig = tflite_shape(ctx, shape)
    if data is not None:
        data = np.ascontiguousarray(np.asarray(data).astype(dtype, copy=False))
        if list(data.shape) != dims:
            data = data.reshape(dims)
    return ctx.add_tensor(Tensor(ctx.fresh(name), dims, sig, dtype, data, quant, variable))


def const(ctx: TFLiteContext, array: Any, base: str = "const", dtype: str | None = None) -> int:
    """A constant tensor holding ``array`` (float64 becomes float32, int64 stays unless told)."""
    arr = np.asarray(array)
    if dtype is None:
        dtype = "float32" if arr.dtype == np.float64 else str(arr.dtype)
    return tensor(ctx, base, arr.shape, dtype, arr)


def ints(ctx: TFLiteContext, values: Sequence[int], base: str = "ints") -> int:
    """A 1-D int32 constant (shapes, axes, permutations)."""
    return const(ctx, np.asarray(list(values), np.int32), base, "int32")


def scalar(ctx: TFLiteContext, value: float, base: str = "scalar") -> int:
    """A float32 constant of shape (1,) (broadcasts against anything)."""
    return const(ctx, np.asarray([value], np.float32), base)


def read(ctx: TFLiteContext, value: str) -> int:
    """The tensor index of IR value ``value`` (a constant gets its tensor on first use)."""
    value = ctx.rename.get(value, value)
    if value in ctx.index:
        return ctx.index[value]
    if ctx.is_const(value):
        arr = ctx.const_value(value)
        dtype = "float32" if arr.dtype == np.float64 else str(arr.dtype)
        ctx.index[value] = tensor(ctx, value, arr.shape, dtype, arr)
        return ctx.index[value]
    raise KerasportError(f"value '{value}' was not produced before its use "
                         f"(layer '{ctx.layer}')")


def write(ctx: TFLiteContext, value: str) -> int:
    """A new tensor for IR value ``value`` (an op's output); returns its index."""
    if value in ctx.index:
        raise KerasportError(f"value '{value}' produced twice (layer '{ctx.layer}')")
    ctx.index[value] = tensor(ctx, value, ctx.shape(value), ctx.dtype(value))
    return ctx.index[value]


def temp(ctx: TFLiteContext, base: str, shape: Sequence[int | None],
         dtype: str = "float32") -> int:
    """A new intermediate tensor (not an IR value)."""
    return tensor(ctx, f"{base}", shape, dtype)


def rank(ctx: TFLiteContext, value: str) -> int:
    """Rank of an IR value."""
    return len(ctx.shape(value))


def tshape(ctx: TFLiteContext, index: int) -> list[int | None]:
    """IR-style shape of tensor ``index`` (free dims as None)."""
    t = ctx.tensors[index]
    return [None if s == -1 else d for d, s in zip(t.shape, t.signature or t.shape)]


# -- options ------------------------------------------------------------------------------
def schema() -> Any:
    """The TFLite schema bindings (flatc's object API, shipped with ai-edge-litert)."""
    from kerasport.export.tflite.writer.serialize import schema_module

    return schema_module()


def options(name: str, **fields: Any) -> Any:
    """A schema options object ``<name>T`` with ``fields`` set (e.g. ``options("Conv2DOptions",
    padding=...)``)."""
    obj = getattr(schema(), f"{name}T")()
    for key, val in fields.items():
        if not hasattr(obj, key):
            raise KerasportError(f"TFLite {name} has no field '{key}'")
        setattr(obj, key, val)
    obj._kp_kind = name
    return obj


def activation_code(name: str) -> int:
    """ActivationFunctionType value of a fused activation name (NONE, RELU, RELU6 ...)."""
    return getattr(schema().ActivationFunctionType, name)


def padding_code(padding: str) -> int:
    """Padding value for Keras 'same'/'valid'."""
    return getattr(schema().Padding, "SAME" if padding == "same" else "VALID")


def fused_output(ctx: TFLiteContext, value: str) -> tuple[int, int]:
    """(output tensor index, fused activation code) for an op producing ``value``: when a
    following Relu/Relu6 was fused into it, the output is the activation's output."""
    act = ctx.fused.get(value)
    if act is None:
        return write(ctx, value), activation_code("NONE")
    target = ctx.fused_target[value]
    index = write(ctx, target)
    return index, activation_code(act)


# -- small builders for lowered formulas ----------------------------------------------------
def un(ctx: TFLiteContext, code: str, x: int, opts: Any = None, dtype: str | None = None,
       extra: Sequence[int] = ()) -> int:
    """A new tensor shaped like ``x`` = ``code``(x, *extra); returns it."""
    out = temp(ctx, f"{ctx.tensors[x].name}/{code.lower()}", tshape(ctx, x),
               dtype or ctx.tensors[x].dtype)
    ctx.op(code, [x, *extra], [out], opts)
    return out


def bi(ctx: TFLiteContext, code: str, a: int, b: int, dtype: str | None = None) -> int:
    """A new tensor = ``code``(a, b) (ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, GREATER ...),
    shaped like ``a`` (``b`` broadcasts against it, or has its shape)."""
    kind = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
            "DIV": "DivOptions"}.get(code)
    opts = options(kind, fusedActivationFunction=activation_code("NONE")) if kind else None
    shape = tshape(ctx, a) if len(ctx.tensors[a].shape) >= len(ctx.tensors[b].shape) \
        else tshape(ctx, b)
    out = temp(ctx, f"{ctx.tensors[a].name}/{code.lower()}", shape,
               dtype or ctx.tensors[a].dtype)
    ctx.op(code, [a, b], [out], opts)
    return out


def select(ctx: TFLiteContext, cond: int, a: int, b: int) -> int:
    """SELECT_V2(cond, a, b), shaped like ``a``."""
    out = temp(ctx, f"{ctx.tensors[a].name}/select", tshape(ctx, a), ctx.tensors[a].dtype)
    ctx.op("SELECT_V2", [cond, a, b], [out])
    return out


def alias(ctx: TFLiteContext, value: str, index: int) -> None:
    """IR value ``value`` is tensor ``index`` (the last tensor of a lowered formula)."""
    if value in ctx.index:
        raise KerasportError(f"value '{value}' produced twice (layer '{ctx.layer}')")
    ctx.tensors[index].name = ctx.fresh(value)
    ctx.index[value] = index
