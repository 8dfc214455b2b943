"""The ONNX form of ConvLSTM (ConvLSTM1D/2D/3D) as one Scan over time.

ops/recurrent.py's ConvLSTM is the spec. Outside the loop, the input convolution of
every timestep is one channels-first Conv over (T * N, C, *S); the Scan body then adds the
recurrent 'same' convolution of h, applies the gates (i, f, c, o) and carries h, c and the last
output over masked steps with Where. go_backwards reverses the scan input (outputs stay in
processing order, as Keras returns them). The body reads the weights from the outer graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import CF, CL, TM, ExportContext, to_cf
from kerasport.export.onnx.helpers import BOOL, FLOAT, conv_pads, onnx_conv_kernel, scalar
from kerasport.export.onnx.recurrent_scan import activation
from kerasport.ir.graph import Node
from kerasport.ops.recurrent import SIGMOID, TANH


@contextmanager
def _subgraph(ctx: ExportContext) -> Iterator[list]:
    """Nodes added inside the block go to the yielded list (a loop body), not the graph."""
    outer, ctx.nodes = ctx.nodes, []
    body: list = ctx.nodes
    try:
        yield body
    finally:
        ctx.nodes = outer


def _time_major_cf(ctx: ExportContext, x: str, base: str) -> str:
    """x (N, T, *S, C) as (T, N, C, *S), with one Transpose from whichever layout it has."""
    rank = ctx.rank(x)
    target = [1, 0, rank - 1, *range(2, rank - 1)]  # channels-last axes in the wanted order
    orders = {CL: list(range(rank)), CF: to_cf(rank), TM: [1, 0, *range(2, rank)]}
    layout = next((lay for lay in (TM, CF, CL) if ctx.held.holds(x, lay)), CL)
    order = orders[layout]
    return ctx.add("Transpose", [ctx.get(x, layout)], f"{base}/x_tm",
                   perm=[order.index(a) for a in target])


def _onnx_kernel(ctx: ExportContext, value: str) -> tuple[str, np.ndarray]:
    """Keras kernel (*k, C, F) as an ONNX Conv weight (F, C, *k)."""
    w = ctx.graph.constants[value]
    return ctx.const(onnx_conv_kernel(w), f"{value}__onnx"), w


def _input_projection(ctx: ExportContext, node: Node, base: str) -> str:
    """The input convolution of every timestep: (T, N, 4F, *O)."""
    a = node.attrs
    x_tm = _time_major_cf(ctx, node.inputs[0], base)
    kernel, w = _onnx_kernel(ctx, node.inputs[1])
    r = w.ndim - 2
    strides, dilations = list(a.get("strides", [1] * r)), list(a.get("dilations", [1] * r))
    shape = ctx.add("Shape", [x_tm], f"{base}/x_shape")
    rest = ctx.add("Slice", [shape, ctx.ints([2]), ctx.ints([r + 3])], f"{base}/c_s")
    flat = ctx.add("Reshape", [x_tm, ctx.add("Concat", [ctx.ints([-1]), rest],
                                             f"{base}/flat_shape", axis=0)], f"{base}/x_flat")
    padding = "same" if a.get("padding", "valid") == "same" else "valid"
    pads = conv_pads(ctx.shape(node.inputs[0])[2:2 + r], w.shape[:r], strides, dilations,
                     padding)
    bias = [ctx.get(node.inputs[3], CL)] if len(node.inputs) > 3 and node.inputs[3] else []
    proj = ctx.add("Conv", [flat, kernel, *bias], f"{base}/proj_flat",
                   kernel_shape=list(w.shape[:r]), strides=strides, dilations=dilations, **pads)
    head = ctx.add("Slice", [shape, ctx.ints([0]), ctx.ints([2])], f"{base}/t_n")
    tail = ctx.add("Slice", [ctx.add("Shape", [proj], f"{base}/proj_shape"), ctx.ints([1]),
                             ctx.ints([r + 2])], f"{base}/f_o")
    return ctx.add("Reshape", [proj, ctx.add("Concat", [head, tail], f"{base}/proj_dims",
                                             axis=0)], f"{base}/proj")


def _zeros(ctx: ExportContext, proj: str, units: int, rank: int, base: str) -> str:
    """Zeros (N, F, *O) shaped after the projection (T, N, 4F, *O)."""
    shape = ctx.add("Shape", [proj], f"{base}/proj_dims_z")
    n = ctx.add("Slice", [shape, ctx.ints([1]), ctx.ints([2])], f"{base}/n")
    o = ctx.add("Slice", [shape, ctx.ints([3]), ctx.ints([rank + 3])], f"{base}/o")
    dims = ctx.add("Concat", [n, ctx.ints([units]), o], f"{base}/state_dims", axis=0)
    zero = ctx.helper.make_tensor("zero", FLOAT, [1], [0.0])
    return ctx.add("ConstantOfShape", [dims], f"{base}/zeros", value=zero)


def _body(ctx: ExportContext, node: Node, units: int, rank: int, masked: bool, base: str):
    """The Scan body: (h, c, out, z_t[, m_t]) -> (h', c', out', y_t)."""
    from onnx import helper

    a = node.attrs
    names = [ctx.fresh(f"{base}/{n}_in") for n in ("h", "c", "out", "z", "m")[:4 + masked]]
    h, c, out, z_t = names[:4]
    recurrent, rk = _onnx_kernel(ctx, node.inputs[2])
    k = rk.shape[:rank]
    before = [(kk - 1) // 2 for kk in k]
    pads = before + [kk - 1 - b for kk, b in zip(k, before)]
    with _subgraph(ctx) as nodes:
        rz = ctx.add("Conv", [h, recurrent], f"{base}/rec", kernel_shape=list(k),
                     strides=[1] * rank, dilations=[1] * rank, pads=pads)
        z = ctx.add("Add", [z_t, rz], f"{base}/z")
        gates = ctx.add("Split", [z, ctx.ints([units] * 4, "split")], f"{base}/gate", n_out=4,
                        axis=1)
        rec_act, act = a.get("recurrent_activation", SIGMOID), a.get("activation", TANH)
        i = activation(ctx, rec_act, gates[0], f"{base}/i")
        f = activation(ctx, rec_act, gates[1], f"{base}/f")
        g = activation(ctx, act, gates[2], f"{base}/g")
        o = activation(ctx, rec_act, gates[3], f"{base}/o")
        new_c = ctx.add("Add", [ctx.add("Mul", [f, c], f"{base}/fc"),
                                ctx.add("Mul", [i, g], f"{base}/ig")], f"{base}/new_c")
        new_h = ctx.add("Mul", [o, activation(ctx, act, new_c, f"{base}/act_c")],
                        f"{base}/new_h")
        if masked:
            m = ctx.add("Unsqueeze", [names[4], ctx.ints(list(range(1, rank + 2)), "axes")],
                        f"{base}/m")
            new_c = ctx.add("Where", [m, new_c, c], f"{base}/c_kept")
            new_h_kept = ctx.add("Where", [m, new_h, h], f"{base}/h_kept")
            old = scalar(ctx, 0.0) if a.get("zero_output_for_mask") else out
            new_out = ctx.add("Where", [m, new_h, old], f"{base}/out_kept")
            new_h = new_h_kept
        else:
            new_out = ctx.add("Identity", [new_h], f"{base}/out_next")
        y_t = ctx.add("Identity", [new_out], f"{base}/y_t")
    # ONNX Runtime wants the shapes of a Scan body's values (free dims may stay symbolic)
    sizes = [f"{base}_o{i}" if d is None else d for i, d in enumerate(
        ctx.shape(node.outputs[1])[1:-1])]
    state, batch = [f"{base}_n", units, *sizes], f"{base}_n"
    inputs = [helper.make_tensor_value_info(n, FLOAT, state) for n in names[:3]]
    inputs.append(helper.make_tensor_value_info(z_t, FLOAT, [batch, 4 * units, *sizes]))
    if masked:
        inputs.append(helper.make_tensor_value_info(names[4], BOOL, [batch]))
    outputs = [helper.make_tensor_value_info(n, FLOAT, state) for n in (new_h, new_c, new_out,
                                                                       y_t)]
    return helper.make_graph(nodes, ctx.fresh(f"{base}/body"), inputs, outputs)


def emit_conv_lstm(ctx: ExportContext, node: Node) -> None:
    """ConvLSTM1D/2D/3D: (outputs, h, c) from one Scan over time."""
    a = node.attrs
    ins = list(node.inputs) + [""] * (7 - len(node.inputs))
    rk = ctx.graph.constants.get(ins[2]) if ctx.is_const(ins[2]) else None
    if rk is None or not ctx.is_const(ins[1]):
        raise KerasportError(f"layer '{node.layer}': ConvLSTM with computed kernels cannot be "
                             "exported to ONNX")
    rank, units = rk.ndim - 2, rk.shape[-2]
    base = node.outputs[0]
    proj = _input_projection(ctx, node, base)
    zeros = None
    states = []
    for v in ins[4:6]:
        if v:
            states.append(ctx.get(v, CF))
        else:
            zeros = zeros or _zeros(ctx, proj, units, rank, base)
            states.append(zeros)
    zeros = zeros or _zeros(ctx, proj, units, rank, base)
    scans = [proj]
    if ins[6]:
        scans.append(ctx.add("Cast", [ctx.get(ins[6], TM)], f"{base}/mask_tm", to=BOOL))
    body = _body(ctx, node, units, rank, bool(ins[6]), base)
    h, c, last, ys = ctx.add(
        "Scan", [*states, zeros, *scans], f"{base}/scan", n_out=4, body=body,
        num_scan_inputs=len(scans),
        scan_input_directions=[1 if a.get("go_backwards") else 0] * len(scans))
    if a.get("return_sequences"):
        perm = [1, 0, *range(3, rank + 3), 2]  # (T, N, F, *O) -> (N, T, *O, F)
        ctx.set(node.outputs[0], ctx.add("Transpose", [ys], node.outputs[0], perm=perm), CL)
    else:
        ctx.set(node.outputs[0], last, CF)
    ctx.set(node.outputs[1], h, CF)
    ctx.set(node.outputs[2], c, CF)
