"""kerasport's own TFLite writer: the IR as a .tflite flatbuffer, without TensorFlow.

    from kerasport.export.tflite.writer import write_tflite
    content = write_tflite(kerasport.load("m.keras"))           # float32
    content = write_tflite(model, quantize="float16")            # or "dynamic"

Emitters (one module per op family, named like ``kerasport.ops``) build a TFLite-level graph
(``context.TFLiteContext``); Relu/Relu6 following a convolution, Dense, pooling or arithmetic
op become its fused activation; weight quantization passes run on that graph; ``serialize``
writes it once through the schema's generated object API. IR tensors are channels-last, as
TFLite's, so no layout changes are needed. Ops without a TFLite form are refused, with their
layers, before anything is built.
"""

from __future__ import annotations

import importlib
from typing import Any

from kerasport.errors import KerasportError
from kerasport.ir.graph import Graph

FAMILIES = ("activations", "attention", "conv", "elementwise", "linalg", "mask", "norm",
            "pool", "preprocessing", "recurrent", "resize", "shape")
WRITER_MODES = ("none", "float16", "dynamic")


def _emitters() -> dict:
    from kerasport.export.tflite.writer.context import EMITTERS

    for family in FAMILIES:
        importlib.import_module(f"kerasport.export.tflite.writer.{family}")
    return EMITTERS


def supported_ops() -> list[str]:
    """IR ops with a TFLite emitter."""
    return sorted(_emitters())


def unavailable_ops() -> dict[str, str]:
    """IR ops without a TFLite form: op -> the reason."""
    from kerasport.export.tflite.writer.context import UNAVAILABLE

    _emitters()
    return dict(UNAVAILABLE)


def check_mappable(graph: Graph) -> None:
    """Refuse a graph holding ops without a TFLite form, naming each op and its layers."""
    emitters = _emitters()
    reasons = unavailable_ops()
    missing: dict[str, list[str]] = {}
    for n in graph.nodes:
        if n.op not in emitters:
            missing.setdefault(n.op, []).append(n.layer)
    if missing:
        raise KerasportError("these ops have no TFLite form in kerasport's writer: " + "; ".join(
            f"{op} (layer {', '.join(repr(x) for x in sorted(set(layers)))}"
            f"{': ' + reasons[op] if op in reasons else ''})"
            for op, layers in sorted(missing.items())))


LSTM_MODES = ("fused", "unrolled", "loop")


def _stateful_layers(ctx: Any, graph: Graph) -> list[str]:
    """Layers written as TFLite sequence ops, whose states are variable tensors."""
    from kerasport.export.tflite.writer.recurrent import fused_lstm_ok, fused_rnn_ok

    lstm = {n.layer for n in graph.nodes if n.op == "LSTM" and ctx.fused_lstm
            and fused_lstm_ok(ctx, n)}
    rnn = {n.layer for n in graph.nodes if n.op == "SimpleRNN" and fused_rnn_ok(ctx, n)}
    return sorted(lstm | rnn)


def build(model: Any, batch_size: int | None = None,
          lstm: str = "fused") -> tuple[Any, list[int], list[int]]:
    """The TFLite-level graph of ``model``: (context, input tensors, output tensors).

    ``lstm``: "fused" writes LSTMs as UNIDIRECTIONAL_SEQUENCE_LSTM, whose states are variable
    tensors of a fixed batch (a dynamic batch becomes 1, said in ``context.notes``);
    "unrolled" writes them step by step and keeps the batch dynamic; "loop" writes those
    returning their last output as a WHILE loop (writer/loop.py), the others fused."""
    from kerasport.export.tflite.writer.context import TFLiteContext
    from kerasport.export.tflite.writer.helpers import read, tensor
    from kerasport.export.tflite.writer.passes import fold_pads, fuse_activations

    if lstm not in LSTM_MODES:
        raise KerasportError(f"unknown LSTM form '{lstm}': use one of {', '.join(LSTM_MODES)}")
    graph = model.graph
    check_mappable(graph)
    emitters = _emitters()
    ctx = TFLiteContext(graph, batch_size)
    ctx.fused_lstm = lstm in ("fused", "loop")
    ctx.lstm_loop = lstm == "loop"
    fused = _stateful_layers(ctx, graph)
    if fused and batch_size is None:
        ctx.batch_size = 1
        ctx.notes.append(f"batch fixed to 1: TFLite's sequence ops and kerasport's LSTM loop "
                         f"keep their states in tensors of a fixed batch ({', '.join(fused)});"
                         " --tflite-lstm unrolled keeps the batch dynamic for LSTMs of known "
                         "length")
    inputs = []
    for v in graph.inputs:
        value = graph.values[v]
        ctx.index[v] = tensor(ctx, v, value.shape, value.dtype)
        inputs.append(ctx.index[v])
    fold_pads(ctx, graph)
    fuse_activations(ctx, graph)
    for i, node in enumerate(graph.nodes):
        if i in ctx.skip:
            continue
        ctx.layer = node.layer
        try:
            emitters[node.op](ctx, node)
        except KerasportError:
            raise
        except Exception as exc:
            raise KerasportError(f"TFLite export of op {node.op} (layer '{node.layer}') "
                                 f"failed: {exc}") from exc
    outputs = [read(ctx, v) for v in graph.outputs]
    return ctx, inputs, outputs


def write_tflite(model: Any, quantize: str = "none", batch_size: int | None = None,
                 lstm: str = "loop", notes: list[str] | None = None) -> bytes:
    """The .tflite bytes of a kerasport Model, written by kerasport (no TensorFlow).

    ``quantize``: none (float32), float16 (float16 weights + DEQUANTIZE) or dynamic (int8
    per-channel weights, float activations). ``batch_size`` fixes the batch (None: dynamic
    where the ops allow it); ``lstm`` as for ``build``. What the writer decided on its own
    (a fixed batch) is appended to ``notes``."""
    from kerasport.export.tflite.writer.serialize import serialize

    if quantize not in WRITER_MODES:
        raise KerasportError(f"kerasport's TFLite writer does not do --quantize {quantize} yet: "
                             f"use one of {', '.join(WRITER_MODES)}, or --converter tensorflow")
    ctx, inputs, outputs = build(model, batch_size, lstm)
    if notes is not None:
        notes.extend(ctx.notes)
    if quantize != "none":
        from kerasport.export.tflite.writer.quantize import quantize_weights

        quantize_weights(ctx, quantize)
    from kerasport.export.tflite.check import unique_names

    return serialize(ctx, inputs, outputs, list(model.input_names),
                     unique_names(list(model.graph.output_names or model.graph.outputs)))
