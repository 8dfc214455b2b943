"""Full-integer quantization of a float32 TFLite-level graph (a ``TFLiteContext`` the writer
built from the IR), as one graph-to-graph pass before serialisation.

Operators are visited in order. One with an int8 kernel (``rules``) gets int8 inputs (a
QUANTIZE is inserted where a float tensor feeds it), int8 per-channel weights, int32 biases and
output parameters by its rule. One without stays float32: int8 tensors feeding it pass through
a DEQUANTIZE, and its outputs are QUANTIZEd where an int8 operator reads them. Each QUANTIZE or
DEQUANTIZE is made once per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.tflite.int8 import rules
from kerasport.export.tflite.writer.context import Operator, Quant
from kerasport.export.tflite.writer.helpers import tensor, tshape
from kerasport.quantize import affine
from kerasport.quantize.affine import QuantParams

# ranges beyond this magnitude are 'infinite' fills (masked attention scores), not data
MAX_RANGE = 1e6


class NotInt8(Exception):
    """This operator cannot run in int8 here (the message says why)."""


@dataclass
class FloatOp:
    """An operator left in float32, and why."""

    layer: str
    code: str
    reason: str

    def __str__(self) -> str:
        return f"'{self.layer}' ({self.code}): {self.reason}"


@dataclass
class Int8Summary:
    """What the pass did: operators in int8, operators left float (with reasons), QUANTIZE /
    DEQUANTIZE operators inserted."""

    int8_ops: int = 0
    float_ops: list[FloatOp] = field(default_factory=list)
    converts: int = 0


def to_quant(p: QuantParams) -> Quant:
    """The writer's tensor quantization record of ``p``."""
    return Quant(list(p.scale), list(p.zero_point), p.axis or 0)


class Int8Rewriter:
    """Rewrites ``ctx`` in place; ``ranges`` are the calibrated (lo, hi) of IR values."""

    def __init__(self, ctx: Any, ranges: dict[str, tuple[float, float]]):
        self.ctx = ctx
        self.t = ctx.tensors
        self.params: dict[int, QuantParams] = {}
        self.ranges: dict[int, tuple[float, float]] = {}
        for value, index in ctx.index.items():
            if value in ranges:
                self.ranges[index] = ranges[value]
        self.int8_of: dict[int, int] = {}
        self.float_of: dict[int, int] = {}
        self.ops: list[Operator] = []
        self.quantized: dict[tuple, tuple[int, QuantParams]] = {}  # shared weights: one copy
        self.summary = Int8Summary()
        self.layer = ""

    # -- tensors ------------------------------------------------------------------------
    def is_activation(self, i: int) -> bool:
        """A float32 tensor computed at run time (not a weight, not a state variable)."""
        t = self.t[i]
        return i >= 0 and t.data is None and not t.variable and (
            t.dtype == "float32" or i in self.params)

    def is_float_const(self, i: int) -> bool:
        """A float32 constant (weights, scales, offsets)."""
        return i >= 0 and self.t[i].data is not None and self.t[i].dtype == "float32"

    def range_of(self, i: int) -> tuple[float, float] | None:
        """The calibrated (or bounded) range of a tensor; constants: their data's."""
        if self.is_float_const(i):
            d = self.t[i].data
            return (min(float(d.min()), 0.0), max(float(d.max()), 0.0)) if d.size else None
        return self.ranges.get(i)

    def set_int8(self, i: int, p: QuantParams) -> None:
        """Make activation ``i`` an int8 (or uint8) tensor with parameters ``p``."""
        self.t[i].dtype = p.dtype
        self.t[i].quant = to_quant(p)
        self.params[i] = p

    def new_tensor(self, like: int, suffix: str, p: QuantParams | None) -> int:
        """A tensor shaped like ``like``: float32 if ``p`` is None, else quantized by ``p``."""
        dtype = "float32" if p is None else p.dtype
        return tensor(self.ctx, f"{self.t[like].name}/{suffix}", tshape(self.ctx, like), dtype,
                      quant=None if p is None else to_quant(p))

    def convert(self, src: int, suffix: str, p: QuantParams | None) -> int:
        """Insert a QUANTIZE (``p`` given) or DEQUANTIZE from ``src``; returns the new tensor."""
        dst = self.new_tensor(src, suffix, p)
        if p is not None:
            self.params[dst] = p
            self.ranges[dst] = self.ranges.get(src, (0.0, 0.0))
        self.ops.append(Operator("QUANTIZE" if p is not None else "DEQUANTIZE", [src], [dst],
                                 None, self.layer))
        self.summary.converts += 1
        return dst

    def as_int8(self, i: int) -> int:
        """The int8 form of activation ``i`` (a QUANTIZE made on first need; a float constant
        read as data is quantized by its own range)."""
        p = self.params.get(i)
        if p is not None and p.dtype == "int8":
            return i
        if i not in self.int8_of and self.is_float_const(i):  # e.g. a zero initial state
            self.int8_of[i] = self.const_int8(i)
            self.params[self.int8_of[i]] = affine.activation_params(*(self.range_of(i)
                                                                      or (0.0, 0.0)))
        if i not in self.int8_of:
            if p is not None:  # uint8 model input: requantize to int8
                target = QuantParams(p.scale, (p.zero_point[0] - 128,))
            else:
                target = affine.activation_params(*self._range(i))
            self.int8_of[i] = self.convert(i, "int8", target)
        return self.int8_of[i]

    def as_float(self, i: int) -> int:
        """The float32 form of tensor ``i`` (a DEQUANTIZE made on first need)."""
        if i not in self.params:
            return i
        if i not in self.float_of:
            self.float_of[i] = self.convert(i, "float", None)
        return self.float_of[i]

    def const_int8(self, i: int, p: QuantParams | None = None) -> int:
        """A per-tensor int8 copy of float constant ``i`` (its own range unless ``p``)."""
        if p is None:
            lo, hi = self.range_of(i) or (0.0, 0.0)
            p = affine.activation_params(lo, hi)
        q = affine.quantize(self.t[i].data, p)
        return tensor(self.ctx, f"{self.t[i].name}/int8", tshape(self.ctx, i), "int8", q,
                      to_quant(p))

    # -- operators ----------------------------------------------------------------------
    def visit(self, op: Operator, allow_float: bool) -> None:
        """Rewrite one operator (appended to ``self.ops``, after any conversions it needs)."""
        self.layer = op.layer
        self._bound_outputs(op)
        touched = [i for i in op.inputs + op.outputs
                   if i >= 0 and (self.is_activation(i) or self.is_float_const(i))]
        if not touched or op.code in rules.SHAPE_ONLY:
            self.ops.append(op)
            return
        if op.code == "NEG":  # int8 NEG negates stored integers (zero point 0 only)
            op = self._neg_as_mul(op)
        try:
            if op.code not in rules.INT8_OPS:
                raise NotInt8(rules.NO_INT8.get(op.code,
                                                f"TFLite has no int8 kernel for {op.code} here"))
            self._int8(op)
            self.summary.int8_ops += 1
        except NotInt8 as exc:
            self.summary.float_ops.append(FloatOp(op.layer, op.code, str(exc)))
            if allow_float:
                self._keep_float(op)
            else:
                self.ops.append(op)  # the pass fails after collecting every such operator

    def _bound_outputs(self, op: Operator) -> None:
        """Ranges of outputs the IR does not name (intermediate tensors of a lowering)."""
        ins = [self.range_of(i) for i in op.inputs
               if i >= 0 and (self.is_activation(i) or self.is_float_const(i))]
        for o in op.outputs:
            if o >= 0 and o not in self.ranges:
                r = rules.interval(op.code, ins)
                if r is not None and np.isfinite(r).all():
                    self.ranges[o] = (min(r[0], 0.0), max(r[1], 0.0))

    def _neg_as_mul(self, op: Operator) -> Operator:
        """NEG x as MUL(x, -1), whose int8 kernel rescales."""
        from kerasport.export.tflite.writer.helpers import activation_code, options

        minus = tensor(self.ctx, f"{self.t[op.inputs[0]].name}/minus_one", [1], "float32",
                       np.asarray([-1.0], np.float32))
        return Operator("MUL", [op.inputs[0], minus], op.outputs,
                        options("MulOptions", fusedActivationFunction=activation_code("NONE")),
                        op.layer, list(op.intermediates))

    def _keep_float(self, op: Operator) -> None:
        inputs = [self.as_float(i) if i >= 0 and i in self.params else i for i in op.inputs]
        self.ops.append(Operator(op.code, inputs, op.outputs, op.options, op.layer,
                                 list(op.intermediates)))

    def _range(self, i: int) -> tuple[float, float]:
        """The calibrated range of activation ``i``, refused when missing or when it holds a
        'minus infinity' fill (attention masks): int8 steps over it would be useless."""
        r = self.ranges.get(i)
        if r is None:
            raise NotInt8(f"no calibrated range for tensor '{self.t[i].name}'")
        if max(abs(r[0]), abs(r[1])) > MAX_RANGE:
            raise NotInt8(f"tensor '{self.t[i].name}' spans [{r[0]:.3g}, {r[1]:.3g}] (a mask "
                          "fill standing for minus infinity): int8 cannot hold it")
        return r

    def _own(self, o: int) -> QuantParams:
        return affine.activation_params(*self._range(o))

    def _int8(self, op: Operator) -> None:
        code = op.code
        outs = [o for o in op.outputs if o >= 0 and self.is_activation(o)]
        if code in rules.WEIGHTED:
            inputs = self._weighted(op, rules.WEIGHTED[code])
            out_params = [self._own(o) for o in outs]
        elif code in rules.SAME_AS_INPUT:
            inputs, p = self._same_as_input(op)
            out_params = [p] * len(outs)
        elif code in rules.SHARED:
            p = self._own(outs[0])
            inputs = [self._requantized(i, p) for i in op.inputs]
            out_params = [p]
        else:
            fixed = rules.FIXED_OUTPUT.get(code)
            out_params = [QuantParams((fixed[0],), (fixed[1],)) if fixed else self._own(o)
                          for o in outs]
            inputs = [self._operand(i, None) for i in op.inputs]
        for o, p in zip(outs, out_params):
            self.set_int8(o, p)
        self.ops.append(Operator(code, inputs, op.outputs, op.options, op.layer,
                                 list(op.intermediates)))

    def _same_as_input(self, op: Operator) -> tuple[list[int], QuantParams]:
        """Inputs of an op whose output keeps its data input's parameters: the first
        activation, else a float constant (an embedding table read by GATHER), quantized by
        its own range; other float constants (pad values) on the same parameters."""
        data = next((i for i in op.inputs if i >= 0 and self.is_activation(i)), None)
        if data is not None:
            x = self.as_int8(data)
            p = self.params[x]
            return [x if i == data else self._operand(i, p) for i in op.inputs], p
        table = next((i for i in op.inputs if self.is_float_const(i)), None)
        if table is None:
            raise NotInt8("it has no float input")
        p = affine.activation_params(*(self.range_of(table) or (0.0, 0.0)))
        return [self._operand(i, p) for i in op.inputs], p

    def _operand(self, i: int, p: QuantParams | None) -> int:
        """An int8 input: activations through ``as_int8``, float constants quantized (with
        ``p`` if given), other tensors (shapes, axes, indices) as they are."""
        if i < 0:
            return i
        if self.is_activation(i):
            return self.as_int8(i)
        if self.is_float_const(i):
            return self.const_int8(i, p)
        return i

    def _requantized(self, i: int, p: QuantParams) -> int:
        if self.is_float_const(i):
            return self.const_int8(i, p)
        x = self._operand(i, None)
        if x >= 0 and x in self.params and self.params[x] != p:
            x = self.convert(x, "requantized", p)
        return x

    def _weighted(self, op: Operator, w: rules.Weighted) -> list[int]:
        inputs = list(op.inputs)
        k = inputs[w.weight]
        b = inputs[w.bias] if w.bias is not None and w.bias < len(inputs) else -1
        if not self.is_float_const(k):
            raise NotInt8("its weights are not a float32 constant")
        if b >= 0 and not self.is_float_const(b):
            raise NotInt8("its bias is not a float32 constant")
        x = self.as_int8(inputs[w.data])
        inputs[w.data] = x
        key = ("weight", k, w.axis)
        if key not in self.quantized:
            q, wp = affine.weight_params(self.t[k].data, w.axis)
            made = tensor(self.ctx, f"{self.t[k].name}/int8", tshape(self.ctx, k), "int8", q,
                          to_quant(wp))
            self.quantized[key] = (made, wp)
        inputs[w.weight], wp = self.quantized[key]
        if b >= 0:
            key = ("bias", b, self.params[x].scale[0], wp.scale)
            if key not in self.quantized:
                try:
                    qb, bp = affine.bias_params(self.t[b].data, self.params[x].scale[0], wp)
                except KerasportError as exc:
                    raise NotInt8(str(exc)) from exc
                made = tensor(self.ctx, f"{self.t[b].name}/int32", tshape(self.ctx, b),
                              "int32", qb, to_quant(bp))
                self.quantized[key] = (made, bp)
            inputs[w.bias] = self.quantized[key][0]
        return inputs
