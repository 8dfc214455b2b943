"""Walks a Keras model's functional graph and builds the IR through the layer converters.

Every call node of every layer is converted in dependency order; nested models are inlined
under their layer's name. Problems are collected, not raised one by one: an unknown class or an
unsupported option poisons that layer's outputs, the walk goes on, and one
UnsupportedLayerError lists them all at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kerasport.errors import KerasportError, LayerIssue, ModelFileError, UnsupportedLayerError
from kerasport.ir.builder import Builder
from kerasport.ir.graph import Graph
from kerasport.keras.config import LayerSpec, ModelSpec, TensorRef, flatten_refs
from kerasport.keras.registry import LayerContext, LayerUnsupported, find_converter, is_operation
from kerasport.keras.weights import WeightSource

FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"}


@dataclass
class LayerRow:
    """One line of ``kerasport inspect``."""

    name: str
    class_name: str
    output_shape: Any
    params: int
    supported: bool
    depth: int = 0


@dataclass
class Conversion:
    """The result of a walk: the graph (None if some layer failed), rows and issues."""

    graph: Graph | None
    rows: list[LayerRow] = field(default_factory=list)
    issues: list[LayerIssue] = field(default_factory=list)


def _hint_for_unknown(spec: LayerSpec) -> tuple[str, str]:
    key = spec.registered_name or spec.class_name
    example = (f"@kerasport.register_converter({key!r})\n        def convert(ctx, inputs):"
               " ...  # return [ctx.op(...)] (see the README)")
    if spec.class_name == "Lambda":
        return ("Lambda layers hold Python bytecode, and kerasport never executes code stored "
                "in a model file",
                "rewrite it with built-in layers, or register a converter that rebuilds it "
                f"(ctx.layer_name tells which Lambda):\n        {example}")
    if is_operation(spec):
        example = (f"@kerasport.register_converter('ops.{spec.class_name}')\n        def "
                   "convert(ctx, inputs): ...  # return [ctx.op(...)] (see the README)")
        return ("this keras.ops operation is not supported yet",
                "see docs/layers.md for the supported operations (ops.*); or register a "
                f"converter:\n        {example}")
    module = spec.module or ""
    custom = (spec.registered_name and ">" in spec.registered_name) or (
        module and not module.startswith("keras"))
    if custom:
        return ("custom layer class: its code is never loaded or executed from the file",
                f"register a converter for it:\n        {example}")
    return ("this Keras layer is not supported yet",
            f"see docs/layers.md for what is supported; or register a converter:\n        "
            f"{example}")


MAX_RANK = 32
MAX_DIM = 1 << 31
INPUT_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64"}


def _input_value(builder: Builder, layer: LayerSpec) -> str:
    cfg = layer.config
    shape = cfg.get("batch_shape")
    if shape is None:
        raise ModelFileError(f"input layer '{layer.name}' has no shape in the config")
    ok = isinstance(shape, (list, tuple)) and 1 <= len(shape) <= MAX_RANK and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and 0 <= d < MAX_DIM)
        for d in shape)
    if not ok:
        raise ModelFileError(f"input layer '{layer.name}' has an unreadable shape in the "
                             f"config: {str(shape)[:200]}")
    dtype = cfg.get("dtype") or "float32"
    if dtype == "string":
        raise ModelFileError(
            f"input '{layer.name}' takes strings: the model starts with text preprocessing "
            "(StringLookup, TextVectorization ...), and kerasport runs numeric tensors only; "
            "apply that layer outside the model (its vocabulary is layer.get_vocabulary()) and "
            "convert the model that takes the ids")
    if not isinstance(dtype, str) or dtype not in FLOAT_DTYPES | INPUT_DTYPES:
        raise ModelFileError(f"input layer '{layer.name}' has an unsupported dtype "
                             f"{str(dtype)[:100]!r}")
    dtype = "float32" if dtype in FLOAT_DTYPES else dtype
    return builder.input(layer.name, (None, *shape[1:]), dtype)


class _Walker:
    def __init__(self) -> None:
        self.b = Builder()
        self.issues: list[LayerIssue] = []
        self.rows: list[LayerRow] = []
        self.memos: dict[str, dict] = {}
        self.masks: dict[str, str] = {}  # value -> its Keras mask, a float32 (N, T) of 0/1
        # scoped layer name -> parameter count of the weights its converter read, so that
        # the inspect rows do not read every array a second time
        self.param_counts: dict[str, int] = {}

    def run_model(self, spec: ModelSpec, weights: WeightSource, scope: str,
                  feed: dict[str, str]) -> dict[tuple[str, int], list | None]:
        """Convert every call node of ``spec``; returns outputs per (layer, node)."""
        memo: dict[tuple[str, int], list | None] = {}
        by_name = {layer.name: layer for layer in spec.layers}

        def deps(key: tuple[str, int]) -> list[tuple[str, int]]:
            layer = by_name.get(key[0])
            if layer is None:
                raise ModelFileError(f"model '{spec.name}' refers to unknown layer '{key[0]}'")
            if layer.class_name == "InputLayer":
                return []
            if key[1] >= len(layer.inbound):
                raise ModelFileError(f"model '{spec.name}' refers to call {key[1]} of layer "
                                     f"'{key[0]}', which has {len(layer.inbound)}")
            node = layer.inbound[key[1]]
            return [(r.layer, r.node) for r in flatten_refs([node.args, node.kwargs])]

        roots = [(r.layer, r.node) for r in flatten_refs(spec.outputs)]
        for layer in spec.layers:
            roots += [(layer.name, i) for i in range(max(len(layer.inbound), 1))]
        for key in self._topological(roots, deps):
            memo[key] = self._convert(by_name[key[0]], key[1], spec, weights, scope, feed,
                                      memo)
        self.memos[scope] = memo
        return memo

    @staticmethod
    def _topological(roots, deps) -> list[tuple[str, int]]:
        order, state = [], {}
        for root in roots:
            stack = [(root, False)]
            while stack:
                key, expanded = stack.pop()
                if expanded:
                    if state.get(key) != "done":
                        state[key] = "done"
                        order.append(key)
                    continue
                if key in state:
                    continue
                state[key] = "open"
                stack.append((key, True))
                for d in reversed(deps(key)):
                    if state.get(d) == "open":
                        raise ModelFileError(
                            f"layer '{d[0]}' (call {d[1]}) depends on its own output: the "
                            "model's graph has a cycle, so the file is corrupt")
                    if d not in state:
                        stack.append((d, False))
        return order

    def _resolve(self, memo, scope: str, ref: TensorRef) -> str:
        outs = memo.get((ref.layer, ref.node))
        if outs is None:
            return self.b.poison(f"{scope}{ref.layer}")
        if ref.index >= len(outs):
            raise ModelFileError(f"the model config refers to output {ref.index} of layer "
                                 f"'{scope}{ref.layer}' (call {ref.node}), which has "
                                 f"{len(outs)}; the file is corrupt")
        return outs[ref.index]

    def _convert(self, layer: LayerSpec, node_idx: int, spec: ModelSpec, weights: WeightSource,
                 scope: str, feed: dict[str, str], memo) -> list | None:
        if layer.class_name == "InputLayer":
            if layer.name not in feed:
                raise ModelFileError(f"input layer '{layer.name}' is not an input of model "
                                     f"'{spec.name}'")
            return [feed[layer.name]]
        name = f"{scope}{layer.name}" + (f"@{node_idx}" if node_idx else "")
        call = layer.inbound[node_idx]
        inputs = [self._resolve(memo, scope, r) for r in call.tensors()]
        masks = self._input_masks(call, inputs, spec.keras_major, memo, scope)
        # masks as Keras carries them on tensors (in Keras 3 a recorded mask= argument wins)
        implicit = [self.masks.get(v) for v in inputs]
        if spec.keras_major >= 3 and any(masks):
            implicit = masks
        poisoned = any(self.b.values[v].shape is None for v in inputs)
        if layer.model is not None:
            return self._nested(layer, node_idx, inputs, weights, name)
        reg = find_converter(layer)
        if reg is None:
            reason, hint = _hint_for_unknown(layer)
            if node_idx == 0:
                self.issues.append(LayerIssue(layer.name, layer.class_name, reason, None, hint,
                                              "operation" if is_operation(layer) else "layer"))
            return None
        ctx = LayerContext(self.b, layer, name,
                           lambda: self._read_weights(weights, layer.name, scope),
                           spec.keras_major, call)
        ctx.resolve = lambda ref: self._resolve(memo, scope, ref)
        ctx.assets = lambda: weights.assets(layer.name)
        ctx.run_wrapped_model = lambda sub, values: self._wrapped(layer.name, sub, values,
                                                                  weights, name)
        ctx.input_masks = masks
        ctx.mask_of = self.masks.get  # the mask of any value (keyword tensors: MHA's value=)
        ctx.drop_mask = lambda v: self.masks.pop(v, None)  # Keras 3 MHA clears its inputs'
        try:
            if reg.cast_inputs:
                inputs = [self._as_float(v, name) for v in inputs]
            outputs = reg.fn(ctx, inputs)
            self._propagate_masks(reg.mask, ctx, list(outputs), implicit)
        except LayerUnsupported as exc:
            # Behind a failed layer, only config problems are this layer's own.
            if node_idx == 0 and (not poisoned or exc.issue.key):
                self.issues.append(exc.issue)
            return None
        except ModelFileError:  # (WeightsError too): the file is at fault, not this layer
            raise
        except Exception as exc:
            if not poisoned:
                self.issues.append(LayerIssue(
                    layer.name, layer.class_name,
                    f"conversion failed ({type(exc).__name__}: {str(exc)[:200]}): the config "
                    "holds something unexpected", None,
                    "if Keras itself loads this file, this is a kerasport bug: please report "
                    "it with the model config", ctx.kind))
            return None
        return list(outputs)

    def _read_weights(self, weights: WeightSource, name: str, scope: str):
        found = weights.layer(name)
        self.param_counts[scope + name] = int(sum(a.size for _, a in found))
        return found

    def _input_masks(self, call, inputs: list[str], keras_major: int, memo,
                     scope: str) -> list[str | None]:
        """Keras 3 records a layer's mask as an explicit ``mask=`` call argument (made by
        ops nodes such as NotEqual); Keras 2 propagates masks implicitly (each converter's
        ``mask`` rule)."""
        if keras_major < 3:
            return [self.masks.get(v) for v in inputs]
        given = call.kwargs.get("mask")
        if isinstance(given, TensorRef):
            return [self._resolve(memo, scope, given)] + [None] * (len(inputs) - 1)
        if isinstance(given, list):
            found = [self._resolve(memo, scope, m) if isinstance(m, TensorRef) else None
                     for m in given]
            return (found + [None] * len(inputs))[:max(len(inputs), 1)]
        return [None] * len(inputs)

    def _propagate_masks(self, rule: str | None, ctx: LayerContext, outputs: list[str],
                         masks: list[str | None]) -> None:
        """Record the Keras mask of each output, by the converter's declared mask ``rule``
        (see keras/registry.py MASK_RULES). Keras 3 files also carry
        masks on tensors without recording them (MultiHeadAttention's query/value masks,
        Attention's list of masks): ``ctx.mask_of`` reads these; ``ctx.input_masks`` of a
        Keras 3 layer still come from its recorded mask= argument only."""
        out_masks: list[str | None] = [None] * len(outputs)
        if ctx.output_masks is not None and rule not in ("own", None):
            raise KerasportError(f"the converter of {ctx.class_name} sets output masks but is "
                                 f"registered with mask={rule!r}, not 'own'")
        if ctx.output_masks is not None:
            out_masks = list(ctx.output_masks) + [None] * (len(outputs) - len(ctx.output_masks))
        elif rule == "pass" and masks and masks[0]:
            out_masks[0] = masks[0]
        elif rule == "merge" and ctx.keras_major >= 3 and all(masks):
            # Keras 3 merges: or of the masks, and no mask unless every input has one
            out_masks[0] = self.b.op("Max", list(masks), f"{ctx.scope}/mask_or", {},
                                     layer=ctx.scope) if len(masks) > 1 else masks[0]
        elif rule == "merge" and ctx.keras_major < 3 and any(masks):
            present = [m for m in masks if m]
            merged = present[0]
            for k, m in enumerate(present[1:]):
                merged = self.b.op("Mul", [merged, m], f"{ctx.scope}/mask_and{k}", {},
                                   layer=ctx.scope)
            out_masks[0] = merged
        for out, mask in zip(outputs, out_masks):
            if mask:
                self.masks[out] = mask

    def _as_float(self, value: str, name: str) -> str:
        v = self.b.values[value]
        if v.shape is None or v.dtype == "float32":
            return value
        return self.b.op("Cast", [value], f"{name}/cast", {"dtype": "float32"}, layer=name)

    def _nested(self, layer: LayerSpec, node_idx: int, inputs: list[str],
                weights: WeightSource, name: str) -> list | None:
        sub = layer.model
        assert sub is not None
        sub_weights = weights.submodel(layer.name, sub.weight_layers)
        in_refs = flatten_refs(sub.inputs)
        if len(in_refs) != len(inputs):
            raise ModelFileError(f"nested model '{layer.name}' takes {len(in_refs)} inputs, "
                                 f"is called with {len(inputs)}")
        feed = {r.layer: v for r, v in zip(in_refs, inputs)}
        memo = self.run_model(sub, sub_weights, f"{name}/", feed)
        return [self._resolve(memo, f"{name}/", r) for r in flatten_refs(sub.outputs)]

    def _wrapped(self, layer_name: str, sub: ModelSpec, inputs: list[str],
                 weights: WeightSource, name: str) -> list[str]:
        """Convert the model wrapped by layer ``layer_name`` (TimeDistributed(model)) on
        ``inputs``; returns its output values."""
        in_refs = flatten_refs(sub.inputs)
        if len(in_refs) != len(inputs):
            raise ModelFileError(f"the model wrapped by '{layer_name}' takes {len(in_refs)} "
                                 f"inputs, gets {len(inputs)}")
        feed = {r.layer: v for r, v in zip(in_refs, inputs)}
        sub_weights = weights.wrapped(layer_name, sub.weight_layers)
        memo = self.run_model(sub, sub_weights, f"{name}/{sub.name}/", feed)
        outs = [self._resolve(memo, f"{name}/{sub.name}/", r) for r in flatten_refs(sub.outputs)]
        if any(self.b.values[v].shape is None for v in outs):
            raise LayerUnsupported(LayerIssue(layer_name, "TimeDistributed",
                                              "a layer of the wrapped model cannot be converted"))
        return outs

    def rows_for(self, spec: ModelSpec, weights: WeightSource, scope: str = "",
                 depth: int = 0) -> int:
        """Append one row per layer (nested models expanded); returns the parameter count."""
        memo = self.memos.get(scope, {})
        total = 0
        for layer in spec.layers:
            outs = memo.get((layer.name, 0))
            shapes = [self.b.values[v].shape for v in outs] if outs else None
            shape = shapes[0] if shapes and len(shapes) == 1 else shapes
            ok = layer.class_name == "InputLayer" or (
                outs is not None and all(s is not None for s in shapes or []))
            row = LayerRow(f"{scope}{layer.name}", layer.class_name, shape, 0, ok, depth)
            self.rows.append(row)
            if layer.model is not None:
                sub_weights = weights.submodel(layer.name, layer.model.weight_layers)
                row.params = self.rows_for(layer.model, sub_weights, f"{scope}{layer.name}/",
                                           depth + 1)
            else:
                try:
                    counted = self.param_counts.get(scope + layer.name)
                    row.params = counted if counted is not None else int(
                        sum(a.size for _, a in weights.layer(layer.name)))
                except Exception:
                    row.params = 0
            total += row.params
        return total


def _structure_kind(obj: Any) -> str:
    if isinstance(obj, TensorRef):
        return "single"
    if isinstance(obj, dict):
        return "dict"
    return "single" if len(obj) == 1 else "list"


def convert_spec(spec: ModelSpec, weights: WeightSource, strict: bool = True) -> Conversion:
    """Convert a model spec to an IR graph. With ``strict``, raise UnsupportedLayerError
    listing every layer that cannot be converted."""
    walker = _Walker()
    in_refs = flatten_refs(spec.inputs)
    if not in_refs:
        raise ModelFileError(f"model '{spec.name}' has no inputs")
    feed = {r.layer: _input_value(walker.b, spec.layer(r.layer)) for r in in_refs}
    memo = walker.run_model(spec, weights, "", feed)
    walker.rows_for(spec, weights)
    out_refs = flatten_refs(spec.outputs)
    outputs = [walker._resolve(memo, "", r) for r in out_refs]
    conv = Conversion(None, walker.rows, walker.issues)
    if walker.issues:
        if strict:
            raise UnsupportedLayerError(walker.issues)
        return conv
    input_names = [feed[r.layer] for r in in_refs]
    conv.graph = walker.b.finish(
        input_names, outputs, _structure_kind(spec.inputs), _structure_kind(spec.outputs),
        spec.name, [r.layer for r in out_refs])
    return conv
