"""Recurrent layers whose activations ONNX's RNN ops lack (selu, silu, hard_silu, gelu), as an
ONNX Scan over time that follows ops/recurrent.py step by step.

The input projection x W + b is one MatMul over all steps (time-major); the Scan body does the
recurrent product, the gates and the mask (a masked step keeps the state and repeats the last
output, or gives zero with zero_output_for_mask). go_backwards scans the inputs from the end and
stacks the outputs in processing order, as Keras does.
"""

from __future__ import annotations

import numpy as np

from kerasport.export.onnx.activations import compose_spec
from kerasport.export.onnx.context import CL, TM, ExportContext
from kerasport.export.onnx.helpers import BOOL, FLOAT, scalar
from kerasport.export.onnx.timemajor import used
from kerasport.ir.graph import Node
from kerasport.ops.recurrent import SIGMOID, TANH


def activation(ctx: ExportContext, spec: dict | None, x: str, base: str) -> str:
    """Activation ``spec`` of ONNX tensor ``x`` from ONNX ops (runtime's ``apply_activation``)."""
    return compose_spec(ctx, spec, x, base)


def _split(ctx: ExportContext, x: str, parts: int, units: int, base: str) -> list[str]:
    """``x`` (N, parts*units) into ``parts`` slices along axis 1."""
    return [ctx.add("Slice", [x, ctx.ints([k * units]), ctx.ints([(k + 1) * units]),
                              ctx.ints([1])], f"{base}{k}") for k in range(parts)]


def _step(ctx: ExportContext, node: Node, xt: str, states: list[str], u: dict,
          base: str) -> list[str]:
    """One kernel step: the new [h] or [h, c] from the projected input ``xt``."""
    a = node.attrs
    act, rec = a.get("activation", TANH), a.get("recurrent_activation", SIGMOID)
    h = states[0]
    if node.op == "SimpleRNN":
        z = ctx.add("Add", [xt, ctx.add("MatMul", [h, u["R"]], f"{base}/hU")], f"{base}/z")
        return [activation(ctx, act, z, f"{base}/h")]
    if node.op == "LSTM":
        z = ctx.add("Add", [xt, ctx.add("MatMul", [h, u["R"]], f"{base}/hU")], f"{base}/z")
        zi, zf, zg, zo = _split(ctx, z, 4, u["units"], f"{base}/z")
        i = activation(ctx, rec, zi, f"{base}/i")
        f = activation(ctx, rec, zf, f"{base}/f")
        g = activation(ctx, act, zg, f"{base}/g")
        o = activation(ctx, rec, zo, f"{base}/o")
        c = ctx.add("Add", [ctx.add("Mul", [f, states[1]], f"{base}/fc"),
                            ctx.add("Mul", [i, g], f"{base}/ig")], f"{base}/c")
        return [ctx.add("Mul", [o, activation(ctx, act, c, f"{base}/act_c")],
                        f"{base}/h"), c]
    x_z, x_r, x_h = _split(ctx, xt, 3, u["units"], f"{base}/x")
    if a.get("reset_after", True):
        hu = ctx.add("MatMul", [h, u["R"]], f"{base}/hU")
        if "rb" in u:
            hu = ctx.add("Add", [hu, u["rb"]], f"{base}/hU_b")
        r_z, r_r, r_h = _split(ctx, hu, 3, u["units"], f"{base}/r")
        z = activation(ctx, rec, ctx.add("Add", [x_z, r_z], f"{base}/zz"), f"{base}/zg")
        r = activation(ctx, rec, ctx.add("Add", [x_r, r_r], f"{base}/rr"), f"{base}/rg")
        cand = ctx.add("Add", [x_h, ctx.add("Mul", [r, r_h], f"{base}/rh")], f"{base}/hh_in")
    else:
        r_z, r_r = _split(ctx, ctx.add("MatMul", [h, u["R_zr"]], f"{base}/hU"), 2, u["units"],
                          f"{base}/r")
        z = activation(ctx, rec, ctx.add("Add", [x_z, r_z], f"{base}/zz"), f"{base}/zg")
        r = activation(ctx, rec, ctx.add("Add", [x_r, r_r], f"{base}/rr"), f"{base}/rg")
        rh = ctx.add("MatMul", [ctx.add("Mul", [r, h], f"{base}/r*h"), u["R_h"]], f"{base}/rhU")
        cand = ctx.add("Add", [x_h, rh], f"{base}/hh_in")
    hh = activation(ctx, act, cand, f"{base}/hh")
    one_minus = ctx.add("Sub", [scalar(ctx, 1.0), z], f"{base}/1-z")
    return [ctx.add("Add", [ctx.add("Mul", [z, h], f"{base}/zh"),
                            ctx.add("Mul", [one_minus, hh], f"{base}/zhh")], f"{base}/h")]


def _weights(ctx: ExportContext, node: Node, base: str) -> tuple[str, dict]:
    """(name of the (F, G) kernel, recurrent names), the input bias folded in later."""
    c = ctx.graph.constants
    rk = np.asarray(c[node.inputs[2]], np.float32)
    units = rk.shape[0]
    u: dict = {"units": units}
    if node.op == "GRU" and not node.attrs.get("reset_after", True):
        u["R_zr"] = ctx.const(rk[:, :2 * units], f"{base}/R_zr")
        u["R_h"] = ctx.const(rk[:, 2 * units:], f"{base}/R_h")
    else:
        u["R"] = ctx.const(rk, f"{base}/R")
    return ctx.const(np.asarray(c[node.inputs[1]], np.float32), f"{base}/W"), u


def _projection(ctx: ExportContext, node: Node, kernel: str, u: dict, base: str) -> str:
    """x W (+ b) over every step, time-major (T, N, G); a reset_after GRU's recurrent bias
    goes to ``u["rb"]``."""
    proj = ctx.add("MatMul", [ctx.get(node.inputs[0], TM), kernel], f"{base}/xW")
    if node.inputs[3]:
        bias = np.asarray(ctx.graph.constants[node.inputs[3]], np.float32)
        if node.op == "GRU" and node.attrs.get("reset_after", True):
            u["rb"] = ctx.const(bias[1], f"{base}/rb")
            bias = bias[0]
        proj = ctx.add("Add", [proj, ctx.const(bias, f"{base}/b")], f"{base}/xW_b")
    return proj


def _zeros(ctx: ExportContext, x: str, units: int, base: str) -> str:
    """Zeros (N, units) for absent initial states and the first "previous output"."""
    from onnx import helper

    batch = ctx.add("Slice", [ctx.add("Shape", [x], f"{base}/shape"), ctx.ints([1]),
                              ctx.ints([2])], f"{base}/batch")
    return ctx.add("ConstantOfShape", [ctx.add("Concat", [batch, ctx.ints([units])],
                                               f"{base}/state_shape", axis=0)],
                   f"{base}/zeros", value=helper.make_tensor("", FLOAT, [1], [0.0]))


def _body(ctx: ExportContext, node: Node, u: dict, n_states: int, masked: bool, base: str):
    """The Scan body: states (h[, c], out), then the step's slices (x_t[, m_t]) ->
    the new states, the new out and the step's output."""
    from onnx import helper

    names = [ctx.fresh(f"{base}/body/{k}") for k in ["h", "c"][:n_states] + ["out"]]
    xt = ctx.fresh(f"{base}/body/x_t")
    mt = ctx.fresh(f"{base}/body/m_t") if masked else ""
    outer, ctx.nodes = ctx.nodes, []
    try:
        new = _step(ctx, node, xt, names[:n_states], u, f"{base}/body")
        if masked:
            kept = [ctx.add("Where", [mt, n, s], f"{base}/body/keep{k}")
                    for k, (n, s) in enumerate(zip(new, names[:n_states]))]
            old = scalar(ctx, 0.0) if node.attrs.get("zero_output_for_mask") else names[-1]
            out = ctx.add("Where", [mt, new[0], old], f"{base}/body/out")
        else:  # each body output its own tensor
            kept, out = new, ctx.add("Identity", [new[0]], f"{base}/body/out")
        emitted = ctx.add("Identity", [out], f"{base}/body/y")
        body_nodes = ctx.nodes
    finally:
        ctx.nodes = outer
    info = [helper.make_tensor_value_info(n, FLOAT, None) for n in names + [xt]]
    if masked:
        info.append(helper.make_tensor_value_info(mt, BOOL, None))
    return helper.make_graph(body_nodes, f"{base}/step", info, [
        helper.make_tensor_value_info(n, FLOAT, None) for n in [*kept, out, emitted]])


def emit_scan(ctx: ExportContext, node: Node, mask: str, states_in: list[str]) -> None:
    """The recurrent op ``node`` as an ONNX Scan (time-major)."""
    from onnx import helper

    base = node.outputs[0]
    kernel, u = _weights(ctx, node, base)
    proj = _projection(ctx, node, kernel, u, base)
    n_states = 2 if node.op == "LSTM" else 1
    zeros = _zeros(ctx, ctx.get(node.inputs[0], TM), u["units"], base)
    inits = [ctx.get(s, CL) if s else zeros for s in states_in[:n_states]] + [zeros]
    scans = [proj]
    if mask:
        keep = ctx.held.mask_bools.get(mask) or ctx.add(
            "Cast", [ctx.get(mask, TM)], f"{base}/keep", to=BOOL)
        scans.append(ctx.add("Unsqueeze", [keep, ctx.ints([-1], "axes")], f"{base}/keep_col"))
    body = _body(ctx, node, u, n_states, bool(mask), base)
    outs = [ctx.fresh(f"{base}/final_{k}") for k in range(n_states + 1)] + [
        ctx.fresh(f"{base}/Y")]
    attrs = {"body": body, "num_scan_inputs": len(scans)}
    if node.attrs.get("go_backwards"):
        attrs["scan_input_directions"] = [1] * len(scans)
    ctx.nodes.append(helper.make_node("Scan", inits + scans, outs, name=ctx.fresh(f"{base}/op"),
                                      **attrs))
    if node.attrs.get("return_sequences"):
        ctx.set(base, outs[-1], TM)
    else:
        ctx.set(base, outs[n_states], CL)
    for k in range(n_states):
        if used(ctx, node.outputs[1 + k]):
            ctx.set(node.outputs[1 + k], outs[k], CL)
