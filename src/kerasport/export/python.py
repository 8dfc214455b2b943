"""Standalone Python: one readable .py file that needs only NumPy, and its weights.

The code is generated from the runtime's own kernels (their source, not a second
implementation): only the kernels the model uses and the helpers they call, then a
straight-line ``predict`` with one line per op, ``load_weights`` and ``self_check``.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import os
import re
import textwrap
import types
from dataclasses import replace
from typing import Any

import numpy as np

from kerasport.io import atomic_write
from kerasport.ir.graph import Graph
from kerasport.ops import get_op
from kerasport.quantize.weights import SCALE_SUFFIX, dequantize, quantize_constants
from kerasport.runtime.executor import Executor


def _module_globals(fn: Any) -> dict[str, Any]:
    return vars(inspect.getmodule(fn))


def _undecorated(obj: Any) -> str:
    """The source of function ``obj`` without its decorators (``@op(...)`` may span lines)."""
    src = textwrap.dedent(inspect.getsource(obj))
    fn = ast.parse(src).body[0]
    return "".join(src.splitlines(keepends=True)[fn.lineno - 1:])


def _free_names(source: str) -> set[str]:
    tree = ast.parse(textwrap.dedent(source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}


def _collect(fns: list[Any]) -> list[tuple[str, str]]:
    """(name, source) of the kernels and every module-level helper or constant they use,
    dependencies first."""
    done: dict[str, str] = {}
    visiting: set[str] = set()

    def visit(name: str, obj: Any, module_globals: dict[str, Any]) -> None:
        if name in done or name in visiting:
            return
        visiting.add(name)
        if isinstance(obj, types.FunctionType):
            src = _undecorated(obj)
            if obj.__name__ != name:  # a kernel registered under another name
                src = src.replace(f"def {obj.__name__}(", f"def {name}(", 1)
            deps_globals = _module_globals(obj)
            for dep in sorted(_free_names(src)):
                if dep in deps_globals and dep != name and dep not in ("np", "op"):
                    visit(dep, deps_globals[dep], deps_globals)
        else:
            src = f"{name} = {obj!r}\n"
        visiting.discard(name)
        done[name] = src

    for fn in fns:
        visit(fn.__name__, fn, _module_globals(fn))
    return list(done.items())


def kernel_sources(ops: list[str]) -> list[tuple[str, str]]:
    """(name, source) of the kernels of ``ops`` and of every helper and constant they use,
    dependencies first: the standalone form of those ops (NumPy only)."""
    return _collect([get_op(op).kernel for op in ops])


def _identifier(name: str, taken: set[str]) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "v_" + ident
    base, k = ident, 1
    while ident in taken:
        k += 1
        ident = f"{base}_{k}"
    taken.add(ident)
    return ident


def _literal(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return repr(value)


def generate(graph: Graph, weights_file: str, weights_mode: str = "float32") -> str:
    """The source of the standalone module for ``graph``."""
    pieces = kernel_sources(sorted({node.op for node in graph.nodes}))
    taken = {name for name, _ in pieces} | {"np", "W", "x", "inputs", "predict", "load_weights",
                                             "self_check", "main"}
    names: dict[str, str] = {}
    for v in graph.inputs:
        names[v] = _identifier(v, taken)
    lines = []
    for node in graph.nodes:
        args = ["None" if n == "" else f"W[{n!r}]" if n in graph.constants else names[n]
                for n in node.inputs]
        args += [f"{k}={_literal(v)}" for k, v in node.attrs.items()]
        outs = [names.setdefault(o, _identifier(o, taken)) for o in node.outputs]
        lines.append(f"    {', '.join(outs)} = {node.op}({', '.join(args)})")
    in_shapes = {v: list(graph.values[v].shape) for v in graph.inputs}
    in_dtypes = {v: graph.values[v].dtype for v in graph.inputs}
    outputs = [names[o] if o in names else f"W[{o!r}]" for o in graph.outputs]
    if graph.output_structure == "single":
        ret = outputs[0]
    elif graph.output_structure == "dict":
        ret = "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(graph.output_names, outputs)) + "}"
    else:
        ret = "[" + ", ".join(outputs) + "]"
    in_args = ", ".join(names[v] for v in graph.inputs)
    body = "\n".join(lines) or "    pass"
    kernel_src = "\n\n".join(src.rstrip() for _, src in pieces)
    return _TEMPLATE.format(
        name=graph.name, n_ops=len(graph.nodes), weights_file=weights_file, mode=weights_mode,
        kernels=kernel_src, in_args=in_args, in_names=list(graph.inputs),
        in_shapes=in_shapes, in_dtypes=in_dtypes, body=body, ret=ret,
        check_inputs="\n".join(
            f"    {names[v]} = _check_input({v!r}, {names[v]})" for v in graph.inputs),
        scale_suffix=SCALE_SUFFIX,
        structure=graph.input_structure,
    )


_TEMPLATE = '''"""Standalone NumPy inference for Keras model '{name}', generated by kerasport.

Needs only NumPy. Weights: {weights_file} (stored as {mode}). {n_ops} operations.

    import {{this module}} as m
    y = m.predict(x)         # x: a batch, as for keras.Model.predict
    m.self_check()           # re-runs the reference input recorded at conversion
"""

import os

import numpy as np

WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights_file!r})
INPUT_SHAPES = {in_shapes!r}
INPUT_DTYPES = {in_dtypes!r}
INPUT_NAMES = {in_names!r}
_SCALE = {scale_suffix!r}
_WEIGHTS = None

# ---- kernels (from kerasport's NumPy runtime) --------------------------------------------

{kernels}


# ---- weights ---------------------------------------------------------------------------


def load_weights(path=WEIGHTS_FILE):
    """Read the weights (.npz, no pickle) and return float32 arrays by name."""
    stored = {{}}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            stored[key] = data[key]
    weights = {{}}
    for key, arr in stored.items():
        if key.endswith(_SCALE) or key.startswith("__ref"):
            continue
        if key + _SCALE in stored:
            arr = arr.astype(np.float32) * stored[key + _SCALE]
        elif arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        weights[key] = arr
    return weights


def _check_input(name, x):
    x = np.asarray(x)
    shape = INPUT_SHAPES[name]
    if x.dtype.kind not in "biuf":
        raise ValueError(f"input {{name!r}}: dtype {{x.dtype}} is not numeric")
    if x.ndim != len(shape):
        hint = " (a single example? add the batch axis: x[None])" if x.ndim == len(shape) - 1 \\
            else ""
        raise ValueError(f"input {{name!r}} expects shape {{tuple(shape)}} (rank {{len(shape)}}),"
                         f" got {{x.shape}}{{hint}}")
    for i, (want, got) in enumerate(zip(shape, x.shape)):
        if i and want is not None and want != got:
            raise ValueError(f"input {{name!r}} expects shape {{tuple(shape)}}, got {{x.shape}}")
    return x.astype(INPUT_DTYPES[name], copy=False)


# ---- the model -------------------------------------------------------------------------


def predict(inputs, weights=None):
    """Outputs for a batch, with Keras' structure (one array, or a list for several)."""
    global _WEIGHTS
    if weights is None:
        if _WEIGHTS is None:
            _WEIGHTS = load_weights()
        weights = _WEIGHTS
    W = weights
    if isinstance(inputs, dict):
        inputs = [inputs[n] for n in INPUT_NAMES]
    elif len(INPUT_NAMES) == 1 and not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    if len(inputs) != len(INPUT_NAMES):
        raise ValueError(f"the model takes {{len(INPUT_NAMES)}} inputs, got {{len(inputs)}}")
    {in_args}, = inputs
{check_inputs}
{body}
    return {ret}


def self_check(path=WEIGHTS_FILE):
    """Re-run the reference input recorded at conversion; returns the max relative error."""
    with np.load(path, allow_pickle=False) as data:
        ref_in = [data[k] for k in sorted(k for k in data.files if k.startswith("__ref_in"))]
        ref_out = [data[k] for k in sorted(k for k in data.files if k.startswith("__ref_out"))]
    outs = predict(ref_in)
    outs = list(outs.values()) if isinstance(outs, dict) else (
        outs if isinstance(outs, list) else [outs])
    worst = 0.0
    for got, want in zip(outs, ref_out):
        scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
        if want.size:
            worst = max(worst, float(np.max(np.abs(got - want))) / scale)
    print(f"self_check: max relative error {{worst:.2e}}")
    return worst


if __name__ == "__main__":
    self_check()
'''


def export_python(model: Any, out_dir: str, name: str | None = None,
                  weights: str = "float32") -> tuple[str, str]:
    """Write ``<out_dir>/<name>.py`` and ``<name>_weights.npz`` (compressed); returns both
    paths. The weights file carries the reference input/output for ``self_check``."""
    graph = model.graph
    name = name or re.sub(r"\W", "_", graph.name) or "model"
    os.makedirs(out_dir, exist_ok=True)
    py_path = os.path.join(out_dir, f"{name}.py")
    w_path = os.path.join(out_dir, f"{name}_weights.npz")
    source = generate(graph, os.path.basename(w_path), weights)
    ast.parse(source)
    if model.reference is None:
        model.reference = model.make_reference()
    arrays = dict(quantize_constants(graph, weights))
    outs = Executor(replace(graph, constants=dequantize(arrays))).run(model.reference.inputs)
    width = len(str(max(len(outs), len(model.reference.inputs))))
    for i, a in enumerate(model.reference.inputs):
        arrays[f"__ref_in{i:0{width}d}"] = a
    for i, a in enumerate(outs):
        arrays[f"__ref_out{i:0{width}d}"] = a

    def write_weights(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(w_path, write_weights)
    def write_source(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(source)

    atomic_write(py_path, write_source)
    return py_path, w_path
