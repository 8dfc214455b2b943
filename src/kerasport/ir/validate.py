"""A graph read from a file, checked completely before it is used.

:func:`graph_from_json` accepts the JSON form of :class:`Graph` only if every field has its
type, every name is defined before it is used (so there are no cycles), every op is known and
given only the attributes and inputs its kernel takes, every constant's array matches its
declared shape and dtype, and the inputs and outputs exist. Anything else is a
ModelFileError naming the file and the field.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, ModelFileError
from kerasport.ir.builder import MAX_SAMPLE_ELEMENTS, sample_elements
from kerasport.ir.graph import Graph, Node, Value
from kerasport.ops import all_ops, get_op
from kerasport.ops.activations import activation_problem

STRUCTURES = ("single", "list", "dict")
VALUE_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float16", "float32", "float64"}
MAX_RANK = 32
MAX_DIM = 1 << 31
AXIS_KEYS = ("axis", "axes", "perm")


class _Check:
    def __init__(self, where: str):
        self.where = where

    def fail(self, what: str) -> None:
        raise ModelFileError(f"{self.where}: invalid bundle graph: {what}")

    def typed(self, obj: Any, kind: type | tuple, what: str) -> Any:
        if not isinstance(obj, kind) or isinstance(obj, bool) and kind is not bool:
            self.fail(f"{what} should be {getattr(kind, '__name__', kind)}, got "
                      f"{type(obj).__name__}")
        return obj

    def names(self, obj: Any, what: str) -> tuple[str, ...]:
        self.typed(obj, list, what)
        for n in obj:
            self.typed(n, str, f"an entry of {what}")
        return tuple(obj)

    def shape(self, obj: Any, what: str) -> tuple | None:
        if obj is None:
            return None
        self.typed(obj, list, what)
        if len(obj) > MAX_RANK:
            self.fail(f"{what} has rank {len(obj)}")
        for d in obj:
            ok = d is None or isinstance(d, str) or (
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d < MAX_DIM)
            if not ok:
                self.fail(f"{what} has an invalid dimension {str(d)[:50]}")
        return tuple(obj)

    def value(self, obj: Any) -> Value:
        self.typed(obj, dict, "a value entry")
        name = self.typed(obj.get("name"), str, "a value's name")
        dtype = obj.get("dtype")
        if dtype not in VALUE_DTYPES:
            self.fail(f"value '{name}' has dtype {str(dtype)[:50]!r}")
        return Value(name, self.shape(obj.get("shape"), f"the shape of '{name}'"), dtype)

    def attrs(self, op: str, attrs: Any, n_inputs: int) -> dict:
        self.typed(attrs, dict, f"the attributes of a {op} node")
        for key in AXIS_KEYS:
            v = attrs.get(key)
            ok = v is None or (isinstance(v, int) and not isinstance(v, bool)) or (
                isinstance(v, list) and all(isinstance(a, int) and not isinstance(a, bool)
                                            for a in v))
            if not ok:
                self.fail(f"{op} attribute '{key}' is {str(v)[:50]}")
        for key in ("activation", "recurrent_activation"):
            problem = activation_problem(attrs[key]) if key in attrs else None
            if problem:
                self.fail(f"{op} attribute '{key}': {problem}")
        params = inspect.signature(get_op(op).kernel).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            allowed = {p.name for p in params if p.kind in (p.KEYWORD_ONLY,
                                                            p.POSITIONAL_OR_KEYWORD)}
            unknown = sorted(set(attrs) - allowed)
            if unknown:
                self.fail(f"{op} does not take the attribute(s) {unknown}")
        if not any(p.kind is p.VAR_POSITIONAL for p in params):
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                          p.POSITIONAL_OR_KEYWORD)]
            if n_inputs > len(positional):
                self.fail(f"{op} takes at most {len(positional)} inputs, got {n_inputs}")
        return dict(attrs)


def _check_shapes(c: _Check, i: int, node: Node, values: dict[str, Value]) -> None:
    """The op's shape rule, run on the declared input shapes, must accept its attributes and
    agree with the declared output shapes (so attributes cannot ask for more memory than the
    value table admits), and no value may exceed the per-sample size limit."""
    shapes = [None if n == "" else values[n].shape for n in node.inputs]
    try:
        outs = get_op(node.op).shape(shapes, **node.attrs)
    except Exception as exc:  # a shape rule rejecting its attributes: the bundle is bad
        c.fail(f"node {i} ({node.op}, layer '{node.layer}'): attributes do not fit its "
               f"inputs ({type(exc).__name__}: {str(exc)[:200]})")
    for name, got in zip(node.outputs, outs):
        want = values[name].shape
        if got is not None and want is not None and (len(got) != len(want) or any(
                isinstance(a, int) and isinstance(b, int) and a != b
                for a, b in zip(got, want))):
            c.fail(f"node {i} ({node.op}) computes shape {got} for '{name}', declared {want}")
        for shape in (got, want):
            if sample_elements(shape) > MAX_SAMPLE_ELEMENTS:
                c.fail(f"value '{name}' would hold more than {MAX_SAMPLE_ELEMENTS} values per "
                       "sample")


def _values(c: _Check, data: dict) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for raw in c.typed(data.get("values"), list, "values"):
        v = c.value(raw)
        if v.name in values:
            c.fail(f"value '{v.name}' is declared twice")
        values[v.name] = v
    return values


def _check_constants(c: _Check, constants: dict[str, np.ndarray], values: dict[str, Value],
                     listed: tuple[str, ...]) -> None:
    if sorted(listed) != sorted(constants):
        c.fail("the constants listed do not match the arrays stored")
    for name, arr in constants.items():
        v = values.get(name)
        if v is None:
            c.fail(f"'{name}' has no value entry")
        elif v.shape is None or tuple(arr.shape) != v.shape or str(arr.dtype) != v.dtype:
            c.fail(f"constant '{name}' holds a {arr.dtype} array of shape {arr.shape}, "
                   f"declared {v.dtype} {v.shape}")


def _node(c: _Check, i: int, raw: Any, defined: set[str], values: dict[str, Value],
          known: set[str]) -> Node:
    """Node ``i``, checked: a known op reading only names defined before it, defining new
    named values, with attributes its kernel takes and shapes its rule agrees with."""
    c.typed(raw, dict, f"node {i}")
    op = raw.get("op")
    if op not in known:
        c.fail(f"node {i} has an unknown op {str(op)[:50]!r}")
    node_in = c.names(raw.get("inputs"), f"the inputs of node {i} ({op})")
    node_out = c.names(raw.get("outputs"), f"the outputs of node {i} ({op})")
    layer = c.typed(raw.get("layer", ""), str, f"the layer of node {i}")
    for name in node_in:
        if name and name not in defined:
            c.fail(f"node {i} ({op}, layer '{layer}') reads '{name}' before it is defined (or "
                   "it is never defined)")
    if not node_out:
        c.fail(f"node {i} ({op}) has no outputs")
    for name in node_out:
        if name in defined or name not in values or not name:
            c.fail(f"node {i} ({op}) output '{name}' is defined twice or has no value entry")
        defined.add(name)
    node = Node(op, node_in, node_out, c.attrs(op, raw.get("attrs", {}), len(node_in)), layer)
    _check_shapes(c, i, node, values)
    return node


def graph_from_json(data: Any, constants: dict[str, np.ndarray], where: str) -> Graph:
    """Check ``data`` (a bundle's graph JSON) against ``constants`` and build the Graph."""
    c = _Check(where)
    c.typed(data, dict, "the graph")
    values = _values(c, data)
    inputs = c.names(data.get("inputs"), "inputs")
    outputs = c.names(data.get("outputs"), "outputs")
    if not inputs or not outputs:
        c.fail("a graph needs at least one input and one output")
    _check_constants(c, constants, values, c.names(data.get("constants", []), "constants"))
    for name in inputs:
        if name not in values or not values[name].shape:
            c.fail(f"input '{name}' has no value entry or no shape")
    defined = set(inputs) | set(constants)
    known = set(all_ops())
    nodes = [_node(c, i, raw, defined, values, known)
             for i, raw in enumerate(c.typed(data.get("nodes"), list, "nodes"))]
    for name in outputs:
        if name not in defined:
            c.fail(f"output '{name}' is never computed")
    structures = [data.get("input_structure"), data.get("output_structure")]
    for s, n in zip(structures, (inputs, outputs)):
        if s not in STRUCTURES or (s == "single" and len(n) != 1):
            c.fail(f"structure {str(s)[:50]!r} for {len(n)} tensors")
    output_names = c.names(data.get("output_names") or list(outputs), "output_names")
    if len(output_names) != len(outputs):
        c.fail("output_names and outputs differ in length")
    name = data.get("name", "model")
    c.typed(name, str, "the graph name")
    try:
        return Graph(tuple(nodes), inputs, outputs, values, constants, structures[0],
                     structures[1], name, output_names)
    except (KerasportError, TypeError, ValueError) as exc:  # pragma: no cover - defensive
        raise ModelFileError(f"{where}: invalid bundle graph ({exc})") from exc
