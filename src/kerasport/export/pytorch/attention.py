"""Attention's masked softmax. The reader lowers attention layers to Einsum / MatMul /
MaskedSoftmax ops (linalg has the products): they are written as those explicit products,
exact, rather than as nn.MultiheadAttention, whose projections and masking rules differ from
Keras' MultiHeadAttention (separate key/value dims, output projection shape, -1e9 fills)."""

from __future__ import annotations

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.helpers import emitter, py, pylist
from kerasport.ir.graph import Node


@emitter("MaskedSoftmax")
def emit_masked_softmax(ctx: ModuleContext, node: Node) -> None:
    """Softmax of scores over axes with masked positions filled (``masked_softmax``)."""
    a = ctx.attrs(node)
    x = ctx.get(node.inputs[0], "cl")
    rank = ctx.rank(node.inputs[0])
    has_mask = len(node.inputs) > 1 and node.inputs[1]
    axes = [int(ax) % rank for ax in a["axes"]]
    if not has_mask and not a.get("causal") and not a.get("window"):
        dims = py(tuple(axes))
        if len(axes) == 1:
            ctx.assign(node, f"torch.softmax({x}, dim={axes[0]})")
            return
        shifted = ctx.vars.new(f"{node.layer}_shifted")
        ctx.line(f"{shifted} = torch.exp({x} - torch.amax({x}, dim={dims}, keepdim=True))")
        ctx.assign(node, f"{shifted} / {shifted}.sum(dim={dims}, keepdim=True)")
        return
    mask = ctx.get(node.inputs[1], "cl") if has_mask else "None"
    fn = ctx.helper("masked_softmax")
    ctx.assign(node, f"{fn}({x}, {mask}, {pylist(axes)}, causal={py(bool(a.get('causal')))}, "
                     f"window={int(a.get('window', 0))}, fill={py(float(a.get('fill', -1e9)))}, "
                     f"additive={py(bool(a.get('additive')))}, "
                     f"zero_masked={py(bool(a.get('zero_masked')))}, "
                     f"expand_axis={int(a.get('expand_axis', 1))})")
