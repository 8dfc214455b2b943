"""Every IR op is complete, and its kernel, shape rule, standalone code and ONNX form agree.

No Keras here: each op runs in a one-node graph built directly (cases in op_cases.py).
Tolerances: kernel vs its standalone source, exact (the same code); kernel vs ONNX Runtime,
per case (default rtol 1e-4, atol 1e-5 on float32).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from op_cases import Case, all_cases

from kerasport.export.onnx import supported_ops, unavailable_ops
from kerasport.export.python import kernel_sources
from kerasport.ir.builder import Builder
from kerasport.ir.graph import Graph
from kerasport.keras.activation_table import (
    ACTIVATIONS,
    activation_spec,
    recurrent_activations,
)
from kerasport.model import Model
from kerasport.ops import FAMILIES, Traits, all_ops, get_op
from kerasport.ops.activations import activation_kernels, activation_problem
from kerasport.ops.common import same_shape
from kerasport.runtime.executor import Executor

CASES = all_cases()
OPS = all_ops()
BATCH_AXIS_ATTRS = {"axis", "axes", "perm", "pads", "crops"}


def _case_id(case: Case) -> str:
    return f"{case.op}-{case.id}" if case.id else case.op


# ---- completeness --------------------------------------------------------------------------
@pytest.mark.parametrize("name", OPS)
def test_op_is_complete(name):
    op = get_op(name)
    assert callable(op.kernel) and op.kernel.__doc__, f"{name}: kernel without a docstring"
    assert callable(op.shape) and op.shape.__doc__, f"{name}: shape rule without a docstring"
    assert isinstance(op.traits, Traits)
    family = op.kernel.__module__.rsplit(".", 1)[-1]
    assert family in FAMILIES, f"{name} is defined outside the op families ({family})"


@pytest.mark.parametrize("name", OPS)
def test_traits_are_consistent(name):
    op = get_op(name)
    t = op.traits
    params = inspect.signature(op.kernel).parameters
    if set(params) & BATCH_AXIS_ATTRS:
        assert t.batch != "rows", f"{name} may name the batch axis: batch='axis_attrs'"
    if t.unary:
        assert op.shape is same_shape, f"{name} is unary but its shape rule is not same_shape"
    if t.recurrent:
        assert t.mask_input is not None and list(params)[t.mask_input] == "mask"
    for i in t.quantize_inputs:
        assert i < len(params)


@pytest.mark.parametrize("name", OPS)
def test_op_has_standalone_code(name):
    pieces = dict(kernel_sources([name]))
    assert name in pieces
    namespace = {"np": np}
    exec(compile("\n\n".join(pieces.values()), f"<standalone {name}>", "exec"), namespace)
    assert callable(namespace[name])


@pytest.mark.parametrize("name", OPS)
def test_op_has_onnx_form_or_reason(name):
    emitted, unavailable = set(supported_ops()), unavailable_ops()
    assert (name in emitted) != (name in unavailable), (
        f"{name}: needs an ONNX emitter or an unavailable({name!r}, reason) entry, not both")
    if name in unavailable:
        assert len(unavailable[name]) > 20, "say why"


def test_every_op_has_a_case():
    assert {c.op for c in CASES} == set(OPS)


# ---- behaviour per op ------------------------------------------------------------------------
def _graph(case: Case) -> tuple[Graph, list[np.ndarray]]:
    b = Builder()
    names, feeds, graph_inputs = [], [], []
    for i, inp in enumerate(case.inputs):
        if inp.array is None:
            names.append("")
        elif inp.const:
            names.append(b.const(f"w{i}", inp.array))
        else:
            shape = (None, *inp.array.shape[1:])
            name = b.input(f"in{i}", shape, str(inp.array.dtype))
            names.append(name)
            graph_inputs.append(name)
            feeds.append(inp.array)
    outs = b.op(case.op, names, "out", dict(case.attrs), layer="case", n_out=case.n_out)
    outs = [outs] if case.n_out == 1 else list(outs)
    graph = b.finish(graph_inputs, outs, "list" if len(feeds) > 1 else "single",
                     "list" if len(outs) > 1 else "single", case.op, outs)
    return graph, feeds


def _fits(rule_shape, actual) -> bool:
    return rule_shape is not None and len(rule_shape) == len(actual) and all(
        d is None or d == a for d, a in zip(rule_shape, actual))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_kernel_output_matches_shape_rule(case):
    graph, feeds = _graph(case)
    outs = Executor(graph).run(feeds)
    concrete = [None if i.array is None else i.array.shape for i in case.inputs]
    rule = get_op(case.op).shape(concrete, **case.attrs)
    symbolic = [graph.values[o].shape for o in graph.outputs]
    for got, want, free in zip(outs, rule, symbolic):
        assert _fits(want, got.shape), f"shape rule {want}, kernel {got.shape}"
        assert _fits(free, got.shape), f"shape rule with a free batch {free}, kernel {got.shape}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_standalone_code_computes_the_same(case):
    pieces = dict(kernel_sources([case.op]))
    namespace = {"np": np}
    exec("\n\n".join(pieces.values()), namespace)
    args = [i.array for i in case.inputs]
    got = namespace[case.op](*args, **case.attrs)
    want = get_op(case.op).kernel(*args, **case.attrs)
    got, want = (list(got), list(want)) if case.n_out > 1 else ([got], [want])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _rnn_with(activation: dict | None) -> Case:
    """A SimpleRNN case whose activation is ``activation`` (a spec)."""
    base = next(c for c in CASES if c.op == "SimpleRNN")
    return Case("SimpleRNN", base.inputs, {**base.attrs, "activation": activation}, n_out=2,
                id=str(activation and activation["op"]))


# every activation recurrent cells accept (the one activation table), as a recurrent
# activation: kernel vs ONNX Runtime (native RNN op or Scan)
RNN_ACTIVATION_CASES = [_rnn_with(activation_spec(name)) for name in recurrent_activations()] + [
    _rnn_with(activation_spec("hard_sigmoid", keras_major=2))]
ONNX_CASES = [c for c in CASES if c.op in set(supported_ops())] + RNN_ACTIVATION_CASES


@pytest.mark.parametrize("name", sorted(activation_kernels()))
def test_activation_spec_ops_are_unary_activation_ops(name):
    op = get_op(name)
    assert op.traits.unary and op.kernel is activation_kernels()[name]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_table_names_known_ops(name):
    spec = activation_spec(name)
    assert spec["op"] in OPS
    assert activation_problem(spec) is None or not ACTIVATIONS[name][2]


@pytest.mark.parametrize("case", ONNX_CASES, ids=_case_id)
def test_onnx_runtime_agrees(case):
    ort = pytest.importorskip("onnxruntime")
    from kerasport.export.onnx import to_onnx

    graph, feeds = _graph(case)
    proto = to_onnx(Model(graph))
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), feeds)})
    want = Executor(graph).run(feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64),
                                   rtol=case.rtol, atol=case.atol)
