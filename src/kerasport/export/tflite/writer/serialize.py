"""The TFLite-level graph of a ``TFLiteContext`` as a .tflite flatbuffer, through the schema's
generated object API (``ai_edge_litert.schema_py_generated``: ModelT, SubGraphT, ... and their
``Pack``) and the ``flatbuffers`` runtime. No byte layout is written by hand."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasport.errors import MissingExtraError
from kerasport.export.tflite.writer.context import Tensor, TFLiteContext

EXTRA_HINT = "pip install 'kerasport[tflite]'"
SCHEMA_VERSION = 3
BUFFER_ALIGNMENT = 16  # constant data is aligned like TensorFlow's converter aligns it
TYPES = {"float32": "FLOAT32", "float16": "FLOAT16", "int32": "INT32", "uint8": "UINT8",
         "int64": "INT64", "bool": "BOOL", "int8": "INT8", "int16": "INT16"}
# builtin codes above this are stored in OperatorCode.builtin_code only
PLACEHOLDER_FOR_GREATER_OP_CODES = 127


def schema_module() -> Any:
    """The flatc-generated TFLite schema module (object API), from ai-edge-litert."""
    try:
        import flatbuffers  # noqa: F401
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:
        raise MissingExtraError("writing TFLite files needs the flatbuffers runtime and the "
                                f"TFLite schema bindings of ai-edge-litert: {EXTRA_HINT}") from exc
    return schema_py_generated


def _aligned_buffer(s: Any) -> Any:
    class AlignedBuffer(s.BufferT):
        """A buffer whose data vector starts on a BUFFER_ALIGNMENT boundary."""

        def Pack(self, builder):  # noqa: N802 (the schema's method name)
            data = None
            if self.data is not None:
                raw = self.data
                builder.StartVector(1, raw.size, BUFFER_ALIGNMENT)
                builder.head = builder.head - raw.size
                builder.Bytes[builder.head:builder.head + raw.size] = raw.tobytes()
                builder.vectorNumElems = raw.size
                data = builder.EndVector()
            s.BufferStart(builder)
            if data is not None:
                s.BufferAddData(builder, data)
            return s.BufferEnd(builder)

    return AlignedBuffer


def _quant(s: Any, tensor: Tensor) -> Any:
    q = tensor.quant
    if q is None:
        return None
    out = s.QuantizationParametersT()
    out.scale = [float(v) for v in q.scale]
    out.zeroPoint = [int(v) for v in q.zero_point]
    out.quantizedDimension = int(q.dim)
    if q.min is not None:
        out.min, out.max = [float(v) for v in q.min], [float(v) for v in q.max]
    return out


def _tensors(s: Any, ctx: TFLiteContext, buffers: list[Any]) -> list[Any]:
    buffer_cls = _aligned_buffer(s)
    out = []
    for t in ctx.tensors:
        tt = s.TensorT()
        tt.name = t.name
        tt.shape = list(t.shape)
        if t.signature is not None:
            tt.shapeSignature = list(t.signature)
        tt.type = getattr(s.TensorType, TYPES[t.dtype])
        tt.isVariable = t.variable
        tt.quantization = _quant(s, t)
        tt.buffer = 0
        if t.data is not None:
            buf = buffer_cls()
            buf.data = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
            buffers.append(buf)
            tt.buffer = len(buffers) - 1
        out.append(tt)
    return out


def _operators(s: Any, ctx: TFLiteContext, codes: dict[str, int], opcodes: list[Any]
               ) -> list[Any]:
    ops = []
    for o in ctx.operators:
        if o.code not in codes:
            code = getattr(s.BuiltinOperator, o.code)
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, PLACEHOLDER_FOR_GREATER_OP_CODES)
            oc.version = 1
            codes[o.code] = len(opcodes)
            opcodes.append(oc)
        op = s.OperatorT()
        op.opcodeIndex = codes[o.code]
        op.inputs, op.outputs = list(o.inputs), list(o.outputs)
        if o.intermediates:
            op.intermediates = list(o.intermediates)
        if o.options is not None:
            op.builtinOptionsType = getattr(s.BuiltinOptions, o.options._kp_kind)
            op.builtinOptions = o.options
        ops.append(op)
    return ops


def _signature(s: Any, names: list[str], indices: list[int]) -> list[Any]:
    out = []
    for name, index in zip(names, indices):
        m = s.TensorMapT()
        m.name, m.tensorIndex = name, index
        out.append(m)
    return out


def prune(ctx: TFLiteContext, inputs: list[int], outputs: list[int]) -> tuple[list[int],
                                                                              list[int]]:
    """Drop tensors no operator, input or output refers to (replaced by quantized copies);
    renumbers every reference. Returns the new inputs and outputs."""
    used = set(inputs) | set(outputs)
    for op in ctx.operators:
        used.update(t for t in (*op.inputs, *op.outputs, *op.intermediates) if t >= 0)
    new = {old: i for i, old in enumerate(sorted(used))}
    ctx.tensors = [ctx.tensors[old] for old in sorted(used)]
    for op in ctx.operators:
        op.inputs = [new[t] if t >= 0 else -1 for t in op.inputs]
        op.outputs = [new[t] for t in op.outputs]
        op.intermediates = [new[t] for t in op.intermediates]
    return [new[t] for t in inputs], [new[t] for t in outputs]


def _subgraph(s: Any, ctx: TFLiteContext, inputs: list[int], outputs: list[int], name: str,
              buffers: list[Any], codes: dict[str, int], opcodes: list[Any]) -> Any:
    """One subgraph (main, or a WHILE cond/body), pruned; its constants appended to
    ``buffers``, its operator codes to ``codes``/``opcodes``."""
    inputs, outputs = prune(ctx, inputs, outputs)
    sub = s.SubGraphT()
    sub.tensors = _tensors(s, ctx, buffers)
    sub.operators = _operators(s, ctx, codes, opcodes)
    sub.inputs, sub.outputs = list(inputs), list(outputs)
    sub.name = name
    return sub


def serialize(ctx: TFLiteContext, inputs: list[int], outputs: list[int], input_names: list[str],
              output_names: list[str], description: str = "kerasport") -> bytes:
    """The .tflite bytes of ``ctx``'s graph with subgraph ``inputs``/``outputs`` (tensor
    indices) and a ``serving_default`` signature naming them."""
    import flatbuffers

    s = schema_module()
    empty = s.BufferT()  # buffer 0: the empty sentinel every non-constant tensor points at
    buffers: list[Any] = [empty]
    codes: dict[str, int] = {}
    opcodes: list[Any] = []
    subs = [_subgraph(s, c, i, o, n, buffers, codes, opcodes) for c, i, o, n in
            [(ctx, inputs, outputs, "main"), *ctx.subgraphs]]
    inputs, outputs = subs[0].inputs, subs[0].outputs
    sig = s.SignatureDefT()
    sig.signatureKey = "serving_default"
    sig.inputs = _signature(s, input_names, inputs)
    sig.outputs = _signature(s, output_names, outputs)
    sig.subgraphIndex = 0
    model = s.ModelT()
    model.version = SCHEMA_VERSION
    model.description = description
    model.operatorCodes = opcodes
    model.subgraphs = subs
    model.buffers = buffers
    model.signatureDefs = [sig]
    size = sum(b.data.size for b in buffers if b.data is not None)
    builder = flatbuffers.Builder(size + 1024 * 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
