"""layouts.Layouts, the ONNX export's layout bookkeeping: values held per layout, derived forms
in their own tables, and ExportContext.get making a missing layout once from a held one."""

from __future__ import annotations

import numpy as np
import pytest

from kerasport.export.onnx.layouts import CF, CL, TM, Layouts
from kerasport.ir.graph import Graph, Value


def test_hold_name_holds_spatial():
    lay = Layouts()
    lay.hold("x", "x0", CL)
    lay.hold("x", "x_tm", TM)
    assert lay.name("x", CL) == "x0" and lay.name("x", CF) is None
    assert lay.holds("x", TM) and not lay.holds("y", CL)
    assert lay.spatial("x") == [CL]
    lay.hold("x", "x_cf", CF)
    assert lay.spatial("x") == [CF, CL]


def test_unknown_layout_refused():
    with pytest.raises(ValueError, match="unknown layout"):
        Layouts().hold("x", "x0", "nchw")


def test_release_and_holders_count_derived_forms():
    lay = Layouts()
    lay.hold("a", "t", CL)
    lay.hold("a", "t", CF)  # rank < 3: one tensor stands for both layouts
    lay.swapped_last["b"] = "t"
    assert lay.holders("t") == 3
    assert lay.release("a", CF) == "t"
    assert lay.holders("t") == 2 and not lay.holds("a", CF)


def _context(shape=(None, 4, 5, 3)):
    pytest.importorskip("onnx")
    from kerasport.export.onnx.context import ExportContext

    graph = Graph(nodes=(), inputs=("x",), outputs=("x",), values={"x": Value("x", shape)},
                  constants={"w": np.ones((3,), np.float32)})
    return ExportContext(graph, 17)


def test_get_transposes_once_and_records_it():
    ctx = _context()
    ctx.set("x", "x", CL)
    cf = ctx.get("x", CF)
    assert ctx.get("x", CF) == cf and len(ctx.nodes) == 1
    assert ctx.nodes[0].op_type == "Transpose" and list(ctx.nodes[0].attribute[0].ints) == [
        0, 3, 1, 2]
    assert ctx.held.name("x", CF) == cf


def test_broadcast_constants_kept_apart_from_layouts():
    ctx = _context()
    ctx.set("x", "x", CF)
    name = ctx.operand("w", CF, 4)
    assert ctx.operand("w", CF, 4) == name
    assert ctx.initializers[name].shape == (1, 3, 1, 1)
    assert ctx.held.broadcast == {("w", CF, 4): name} and not ctx.held.holds("w", CF)
