"""The module being generated: ``__init__`` lines, ``forward`` lines, the state dict, the
layout of every value and the names given to submodules and variables."""

from __future__ import annotations

import inspect
import keyword
import re
from collections import Counter
from typing import Any

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.pytorch.helpers import const_to_layout, py
from kerasport.export.pytorch.templates import HELPER_DEPS, HELPER_SOURCES
from kerasport.ir.graph import Graph, Node
from kerasport.ops import get_op

# attribute names nn.Module itself uses: a submodule may not take them
_MODULE_ATTRS = frozenset((
    "training forward eval train cuda cpu to apply parameters buffers children modules "
    "state_dict load_state_dict zero_grad half float double type register_buffer "
    "register_parameter register_module add_module get_submodule get_parameter get_buffer "
    "named_modules named_parameters named_buffers named_children requires_grad_ "
    "share_memory extra_repr dump_patches call_super_init compile bfloat16 ipu xpu mtia "
    "set_extra_state get_extra_state").split())
# ops written as a submodule (their layer holding several is named per output)
_MODULE_OPS = frozenset({"Dense", "Conv", "DepthwiseConv", "ConvTranspose", "LSTM", "GRU",
                         "SimpleRNN", "LayerNorm", "GroupNorm", "Gather", "Affine", "Pool"})
# names the generated code uses (modules, builtins): no variable may shadow them
_RESERVED_VARS = frozenset({"self", "torch", "nn", "F", "np", "math", "os", "json", "float",
                            "int", "list", "tuple", "range", "len", "max", "min", "abs",
                            "sum", "isinstance", "super", "open", "print", "none", "true",
                            "false"})


_MAX_NAME = 40


def identifier(name: str) -> str:
    """``name`` as a lower-case Python identifier (Keras names: 'conv2d_1', 'model/dense')."""
    ident = re.sub(r"\W+", "_", name).strip("_").lower() or "layer"
    if len(ident) > _MAX_NAME:  # long paths (ONNX node names): their last components
        tail = ident[-_MAX_NAME:]
        ident = tail.split("_", 1)[1] if "_" in tail[1:] else tail
    if ident[0].isdigit():
        ident = "l_" + ident
    if keyword.iskeyword(ident):
        ident += "_"
    return ident


class Names:
    """Unique identifiers from base names: the second 'dense' is 'dense_2'."""

    def __init__(self, reserved: frozenset[str] | set[str] = frozenset()) -> None:
        self.taken: set[str] = set(reserved)

    def new(self, base: str) -> str:
        """A fresh identifier built from ``base``."""
        ident = identifier(base)
        name, i = ident, 1
        while name in self.taken:
            i += 1
            name = f"{ident}_{i}"
        self.taken.add(name)
        return name


class ModuleContext:
    """Collects the generated module while the emitters walk the graph in order."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.init_lines: list[str] = []
        self.forward_lines: list[str] = []
        self.state: dict[str, np.ndarray] = {}
        self.helpers: list[str] = []
        self.members = Names(_MODULE_ATTRS | set(HELPER_SOURCES))
        self.vars = Names(_RESERVED_VARS | set(HELPER_SOURCES))
        # value name -> {layout: variable}
        self.exprs: dict[str, dict[str, str]] = {}
        # layers that will hold several torch layers name them after what each computes
        self.layer_modules = Counter(n.layer or n.op for n in graph.nodes
                                     if n.op in _MODULE_OPS)
        # values something reads (unused extra outputs are assigned to '_')
        self.used = {i for n in graph.nodes for i in n.inputs if i} | set(graph.outputs)
        self.args: list[str] = []
        for name in graph.inputs:
            var = self.vars.new(name)
            self.args.append(var)
            self.exprs[name] = {"cl": var}

    # -- values ------------------------------------------------------------------------------

    def rank(self, name: str) -> int:
        """The rank of value ``name``; an error if the IR does not know it."""
        shape = self.graph.values[name].shape
        if shape is None:
            raise KerasportError(f"value '{name}' has no known rank: cannot place its layout")
        return len(shape)

    def shape(self, name: str) -> tuple:
        """The IR shape of value ``name`` (channels-last)."""
        return tuple(self.graph.values[name].shape or ())

    def dtype(self, name: str) -> str:
        """The dtype name of value ``name``."""
        return self.graph.values[name].dtype

    def is_const(self, name: str) -> bool:
        """Whether ``name`` is a constant (a weight) of the graph."""
        return name in self.graph.constants

    def const(self, name: str) -> np.ndarray:
        """The array of constant ``name``."""
        return self.graph.constants[name]

    def layout(self, name: str) -> str:
        """The layout a value is held in now ("cf" if it exists channels-first only)."""
        held = self.exprs[name]
        return "cl" if "cl" in held else "cf"

    def get(self, name: str, layout: str = "cl") -> str:
        """The variable holding value ``name`` in ``layout``, converting it (once) if it is
        held in the other layout; values of rank < 3 have one layout."""
        held = self.exprs[name]
        if layout in held:
            return held[layout]
        if self.rank(name) < 3:
            return next(iter(held.values()))
        src = next(iter(held.values()))
        var = self.vars.new(f"{src}_{layout}")
        move = "movedim(-1, 1)" if layout == "cf" else "movedim(1, -1)"
        note = "channels-first" if layout == "cf" else "channels-last"
        self.line(f"{var} = {src}.{move}  # {note}")
        held[layout] = var
        return var

    def prefer(self, names: list[str]) -> str:
        """The layout to compute an elementwise op of ``names`` in: "cf" if any full-rank
        variable operand is held channels-first only, else "cl"."""
        var = [n for n in names if n and not self.is_const(n)]
        rank = max((self.rank(n) for n in var), default=0)
        if rank >= 3 and all(self.rank(n) == rank for n in var) and any(
                self.layout(n) == "cf" for n in var):
            return "cf"
        return "cl"

    def operand(self, node: Node, name: str, layout: str, out_rank: int,
                inline: bool = True) -> str:
        """A variable, or for a constant a parameter (a literal if it is one float32 number)
        arranged for ``layout``."""
        if not self.is_const(name):
            return self.get(name, layout)
        arr = self.const(name)
        if inline and arr.size == 1 and arr.ndim <= out_rank and arr.dtype == np.float32:
            return py(float(arr.reshape(())))
        return self.parameter(node, name.rsplit("/", 1)[-1],
                              const_to_layout(arr, out_rank, layout))

    # -- emitting ----------------------------------------------------------------------------

    def line(self, text: str) -> None:
        """One line of ``forward``."""
        self.forward_lines.append(text)

    def assign(self, node: Node, expr: str, layout: str = "cl") -> list[str]:
        """``outputs = expr`` for every output of ``node``, held in ``layout``; returns the
        variables."""
        base = self.base_name(node)
        if base in self.vars.taken:  # a second op of the layer: 'conv2d_relu'
            base = f"{base}_{identifier(re.sub(r'(?<!^)(?=[A-Z])', '_', node.op))}"
        outs = [self.vars.new(base) if o in self.used or i == 0 else "_"
                for i, o in enumerate(node.outputs)]
        self.line(f"{', '.join(outs)} = {expr}")
        for name, var in zip(node.outputs, outs):
            if name:
                self.exprs[name] = {layout if self.rank(name) >= 3 else "cl": var}
        return outs

    def base_name(self, node: Node) -> str:
        """The name for what ``node`` computes: its output's name where that says more than
        the layer's ('multi_head_attention/query' -> multi_head_attention_query)."""
        layer = identifier(node.layer or node.op)
        out = identifier(node.outputs[0]) if node.outputs and node.outputs[0] else ""
        return out if out.startswith(layer) and len(out) <= len(layer) + 24 else layer

    def out_var(self, name: str, base: str) -> str:
        """A fresh variable for output ``name``, or '_' if nothing reads it."""
        return self.vars.new(base) if name and name in self.used else "_"

    def bind(self, name: str, var: str, layout: str = "cl") -> None:
        """Value ``name`` is held in variable ``var`` (already assigned)."""
        if name:
            self.exprs[name] = {layout if self.rank(name) >= 3 else "cl": var}

    def module(self, node: Node, ctor: str, weights: dict[str, np.ndarray],
               suffix: str = "") -> str:
        """A submodule ``self.<layer> = ctor`` whose state dict entries are ``weights``
        (torch layouts already); returns ``self.<name>``."""
        layer = node.layer or node.op
        base = self.base_name(node) if self.layer_modules[layer] > 1 else identifier(layer)
        name = self.members.new(base + suffix)
        self.init_lines.append(f"self.{name} = {ctor}")
        for key, arr in weights.items():
            self.state[f"{name}.{key}"] = np.ascontiguousarray(arr, dtype=arr.dtype)
        return f"self.{name}"

    def parameter(self, node: Node, suffix: str, arr: np.ndarray) -> str:
        """A tensor of the module ``self.<layer>_<suffix>``: a trainable ``nn.Parameter`` for
        floats, a buffer for integers; returns the expression."""
        name = self.members.new(f"{node.layer or node.op}_{suffix}")
        shape = py(tuple(int(d) for d in arr.shape))
        if arr.dtype.kind == "f":
            self.init_lines.append(f"self.{name} = nn.Parameter(torch.empty({shape}))")
        else:
            dtype = {"i": "torch.int64", "u": "torch.int64", "b": "torch.bool"}[arr.dtype.kind]
            self.init_lines.append(
                f"self.register_buffer({name!r}, torch.zeros({shape}, dtype={dtype}))")
            arr = arr.astype(np.bool_ if arr.dtype.kind == "b" else np.int64)
        self.state[name] = np.ascontiguousarray(arr)
        return f"self.{name}"

    def helper(self, name: str) -> str:
        """Include the generated helper function ``name``; returns its name."""
        for dep in HELPER_DEPS.get(name, ()):
            self.helper(dep)
        if name not in self.helpers:
            self.helpers.append(name)
        return name

    def outputs(self) -> list[str]:
        """The graph outputs as variables, channels-last."""
        return [self.get(name, "cl") for name in self.graph.outputs]

    def attrs(self, node: Node) -> dict[str, Any]:
        """The attributes of ``node``, the op's defaults filled in."""
        sig = inspect.signature(get_op(node.op).kernel)
        out = {k: p.default for k, p in sig.parameters.items()
               if p.kind == p.KEYWORD_ONLY or (p.default is not p.empty and p.default is not None)}
        out.update(node.attrs)
        return out
