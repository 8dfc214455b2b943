"""ONNX export from the IR, with the ``onnx`` package only (extra ``kerasport[onnx]``).

    from kerasport.export.onnx import export_onnx
    export_onnx(kerasport.load("m.keras"), "m.onnx", opset=17)

Channels-last graphs get transposes only at the boundaries of channels-first regions (see
context.py). The model is checked with ``onnx.checker.check_model(full_check=True)``.
"""

from __future__ import annotations

from typing import Any

from kerasport.errors import KerasportError, MissingExtraError
from kerasport.io import atomic_write

DEFAULT_OPSET = 17
MIN_OPSET = 13


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise MissingExtraError("ONNX export needs the 'onnx' package: "
                                "pip install 'kerasport[onnx]'") from exc
    return onnx


def _emitters() -> dict:
    from kerasport.export.onnx.context import load_emitters

    return load_emitters()


def supported_ops() -> list[str]:
    """IR ops with an ONNX emitter."""
    return sorted(_emitters())


def _why(op: str) -> str:
    from kerasport.export.onnx.context import UNAVAILABLE

    return f": {UNAVAILABLE[op]}" if op in UNAVAILABLE else ""


def unavailable_ops() -> dict[str, str]:
    """IR ops without an ONNX form: op -> the reason."""
    from kerasport.export.onnx.context import UNAVAILABLE

    _emitters()
    return dict(UNAVAILABLE)


def _check_exportable(graph: Any, opset: int, emitters: dict) -> None:
    """Refuse an opset the installed onnx package does not know, and ops without an emitter
    (every one, with the layer it came from), before anything is built."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise KerasportError(f"opset {opset} is not supported: choose {MIN_OPSET} to {newest} "
                             "(the newest the installed onnx package knows)")
    missing = sorted({(n.op, n.layer) for n in graph.nodes if n.op not in emitters})
    if missing:
        raise KerasportError("these ops have no ONNX mapping yet: " + ", ".join(
            f"{op} (from layer '{layer}'{_why(op)})" for op, layer in missing))


def _dims(batch: int | str, name: str, shape: tuple, perm=None) -> list:
    """ONNX dims of a value: the batch (fixed or named), free dims named after ``name``."""
    out = [batch] + [f"{name}_d{i}" if d is None else d for i, d in enumerate(shape) if i > 0]
    return [out[p] for p in perm] if perm else out


def _graph_inputs(ctx: Any, batch: int | str, inputs_as_nchw: bool) -> list:
    """The ONNX graph inputs (channels-first for rank >= 3 with ``inputs_as_nchw``)."""
    from onnx import helper

    from kerasport.export.onnx.context import CF, CL, to_cf
    from kerasport.export.onnx.helpers import onnx_dtype

    inputs = []
    for v in ctx.graph.inputs:
        value = ctx.graph.values[v]
        rank = len(value.shape)
        nchw = inputs_as_nchw and rank >= 3
        inputs.append(helper.make_tensor_value_info(v, onnx_dtype(value.dtype), _dims(
            batch, v, value.shape, to_cf(rank) if nchw else None)))
        ctx.set(v, v, CF if nchw else CL)
    return inputs


def _emit_nodes(ctx: Any, emitters: dict) -> None:
    """Run the emitter of every IR node in order; an unexpected failure names op and layer."""
    for node in ctx.graph.nodes:
        ctx.layer = node.layer
        try:
            emitters[node.op](ctx, node)
        except KerasportError:
            raise
        except Exception as exc:
            raise KerasportError(f"ONNX export of op {node.op} (layer '{node.layer}') failed: "
                                 f"{exc}") from exc


def _graph_outputs(ctx: Any, batch: int | str) -> list:
    """The ONNX graph outputs: an Identity per IR output, named like it (made unique)."""
    from onnx import helper

    from kerasport.export.onnx.context import CL
    from kerasport.export.onnx.helpers import onnx_dtype

    graph = ctx.graph
    outputs, seen = [], set()
    taken = {o for n in ctx.nodes for o in n.output} | set(ctx.initializers)
    for v, name in zip(graph.outputs, graph.output_names):
        base, k = name, 1
        while name in seen or name in graph.inputs or name in taken:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        src = ctx.get(v, CL)
        ctx.nodes.append(helper.make_node("Identity", [src], [name], name=f"{name}/output"))
        value = graph.values[v]
        outputs.append(helper.make_tensor_value_info(name, onnx_dtype(value.dtype),
                                                     _dims(batch, name, value.shape)))
    return outputs


def to_onnx(model: Any, opset: int = DEFAULT_OPSET, batch_size: int | None = None,
            inputs_as_nchw: bool = False):
    """The ONNX ModelProto for a kerasport Model (checked, not written)."""
    onnx = _require_onnx()
    from onnx import helper

    from kerasport.export.onnx.context import ExportContext
    from kerasport.export.onnx.passes import plan_export

    emitters = _emitters()
    _check_exportable(model.graph, opset, emitters)
    graph, plan = plan_export(model.graph)
    ctx = ExportContext(graph, opset, plan)
    batch = batch_size if batch_size else "batch"
    inputs = _graph_inputs(ctx, batch, inputs_as_nchw)
    _emit_nodes(ctx, emitters)
    outputs = _graph_outputs(ctx, batch)
    initializers = [onnx.numpy_helper.from_array(a, n) for n, a in ctx.initializers.items()]
    proto = helper.make_graph(ctx.nodes, ctx.graph.name, inputs, outputs, initializers)
    onnx_model = helper.make_model(proto, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="kerasport")
    onnx_model.ir_version = min(onnx_model.ir_version, 10)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export_onnx(model: Any, path: str, opset: int = DEFAULT_OPSET, batch_size: int | None = None,
                inputs_as_nchw: bool = False):
    """Write the ONNX form of ``model`` to ``path`` atomically; returns the ModelProto."""
    onnx = _require_onnx()
    proto = to_onnx(model, opset, batch_size, inputs_as_nchw)
    atomic_write(path, lambda tmp: onnx.save(proto, tmp))
    return proto
