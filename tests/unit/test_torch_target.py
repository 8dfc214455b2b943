"""The PyTorch target without torch: every IR op is written for PyTorch or refused with a
reason, the emitters and the generated file's helpers are consistent, and the safetensors file
kerasport writes with NumPy is the format (checked against the safetensors package's reader
when it is installed)."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from kerasport.export.pytorch import emitted_ops, unavailable_ops
from kerasport.export.pytorch.templates import HELPER_DEPS, HELPER_SOURCES
from kerasport.export.pytorch.writer import wrap, write_safetensors
from kerasport.ops import all_ops


@pytest.mark.parametrize("name", all_ops())
def test_op_is_emitted_or_unavailable_with_reason(name):
    emitted, unavailable = set(emitted_ops()), unavailable_ops()
    assert (name in emitted) != (name in unavailable), (
        f"{name}: needs a PyTorch emitter or an unavailable({name!r}, reason), not both")
    if name in unavailable:
        assert len(unavailable[name]) > 20, "say why"


def test_helper_sources_parse_and_name_their_dependencies():
    for name, source in HELPER_SOURCES.items():
        tree = ast.parse(source)
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert defined == {name}
        called = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        for other in set(HELPER_SOURCES) - {name}:
            if other in called:
                assert other in HELPER_DEPS.get(name, ()), f"{name} calls {other}"


@pytest.mark.parametrize("line", [
    "x = self.some_rather_long_module_name(first_argument_variable, second_argument_variable, "
    "third=3)",
    "a_very_long_variable_name_for_a_value = another_long_receiver_name_here.repeat_interleave("
    "2, dim=2)",
    "y = first_long_operand_variable_name * second_long_operand_variable_name + "
    "third_long_operand_name",
    "normal_concat_inputs = [normal_add_1_0, normal_add_2_0, normal_add_3_0, normal_add_4_0, "
    "normal_add_5_0, normal_add_6_0]",
])
def test_wrap_keeps_the_statement_and_the_width(line):
    lines = wrap(line, 8)
    assert all(len(x) + 8 <= 100 for x in lines), lines
    joined = "\n".join(lines)
    assert ast.dump(ast.parse(joined)) == ast.dump(ast.parse(line))


def test_safetensors_file_reads_back(tmp_path):
    state = {"b.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
             "a.count": np.array([1, 2], np.int64), "empty": np.zeros((0, 4), np.float32)}
    path = tmp_path / "w.safetensors"
    write_safetensors(str(path), state)
    st = pytest.importorskip("safetensors.numpy")
    back = st.load_file(str(path))
    assert sorted(back) == sorted(state)
    for key, arr in state.items():
        np.testing.assert_array_equal(back[key], arr)
        assert back[key].dtype == arr.dtype
