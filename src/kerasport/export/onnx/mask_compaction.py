"""The mask compaction of the native ONNX recurrent ops: each sequence's unmasked steps moved
to its front (ScatterElements), sequence_lens = their count, and every step's output gathered
back afterwards, so any mask is exact (not only right-padding). Made once per mask and export:
stacked recurrent layers share it.
"""

from __future__ import annotations

import numpy as np

from kerasport.errors import KerasportError
from kerasport.export.onnx.context import TM, ExportContext
from kerasport.export.onnx.helpers import BOOL, FLOAT, INT32, INT64


class Compacted:
    """The index arithmetic of a mask (N, T) for moving each sequence's unmasked steps to its
    front; made once per mask and export (stacked recurrent layers share it)."""

    @classmethod
    def of(cls, ctx: ExportContext, mask: str, base: str) -> Compacted:
        """The compaction of ``mask`` (a mask passes.compacted_masks planned), made on first
        use and kept in ``ctx.compactions``."""
        if mask not in ctx.plan.compacted:
            raise KerasportError(f"mask '{mask}' was not planned for compaction "
                                 "(passes.compacted_masks)")
        if mask not in ctx.compactions:
            ctx.compactions[mask] = cls(ctx, mask, base)
        return ctx.compactions[mask]

    def __init__(self, ctx: ExportContext, mask: str, base: str):
        keep = ctx.held.mask_bools.get(mask) or ctx.add(
            "Cast", [ctx.get(mask, TM)], f"{base}/keep", to=BOOL)  # (T, N)
        ki = ctx.add("Cast", [keep], f"{base}/keep_i", to=INT64)
        zero = ctx.ints([0], "axis")
        self.ctx, self.keep, self.keep_i, self.base = ctx, keep, ki, base
        self.cs = ctx.add("CumSum", [ki, zero], f"{base}/kept_so_far")
        self.lens = ctx.reduce("ReduceSum", ki, [0], False, f"{base}/lens")  # (N,)
        dropped = ctx.add("CumSum", [ctx.add("Cast", [ctx.add("Not", [keep], f"{base}/drop")],
                                             f"{base}/drop_i", to=INT64), zero],
                          f"{base}/dropped_so_far")
        # kept step -> its rank among the kept; dropped step -> after all kept ones
        self.dest = ctx.add("Sub", [ctx.add("Where", [keep, self.cs, ctx.add(
            "Add", [self.lens, dropped], f"{base}/after")], f"{base}/dest1"),
            ctx.const(np.asarray(1, np.int64), "one")], f"{base}/dest")
        self.seq_lens = ctx.add("Cast", [self.lens], f"{base}/seq_lens", to=INT32)

    def compact(self, x: str, base: str) -> str:
        """Time-major ``x`` (T, N, F) with each sequence's unmasked steps first."""
        return self.ctx.add("ScatterElements", [x, self._spread_index(self.dest, x, base), x],
                            f"{base}/compacted", axis=0)

    def _spread_index(self, index: str, like: str, base: str) -> str:
        ctx = self.ctx
        col = ctx.add("Unsqueeze", [index, ctx.ints([-1], "axes")], f"{base}/index_col")
        return ctx.add("Expand", [col, ctx.add("Shape", [like], f"{base}/like_shape")],
                       f"{base}/index")

    def outputs(self, y: str, reverse: bool, zero_output: bool, base: str) -> str:
        """Per-step outputs (T, N, H) in input time order from the compacted outputs ``y``:
        a kept step gives its own output, a dropped one repeats the last output of the
        processing order (zero before any, or always with zero_output_for_mask)."""
        ctx = self.ctx
        if reverse:  # processed from the end: the next kept step's output
            index = ctx.add("Sub", [self.cs, self.keep_i], f"{base}/src")
            valid = self.keep if zero_output else ctx.add("Less", [index, self.lens],
                                                          f"{base}/valid")
        else:
            index = ctx.add("Sub", [self.cs, ctx.const(np.asarray(1, np.int64), "one")],
                            f"{base}/src")
            valid = self.keep if zero_output else ctx.add(
                "Greater", [self.cs, ctx.const(np.asarray(0, np.int64), "zero")],
                f"{base}/valid")
        safe = ctx.add("Where", [valid, index, ctx.const(np.asarray(0, np.int64), "zero")],
                       f"{base}/src_safe")
        picked = ctx.add("GatherElements", [y, self._spread_index(safe, y, base)],
                         f"{base}/picked", axis=0)
        gate = ctx.add("Unsqueeze", [ctx.add("Cast", [valid], f"{base}/valid_f", to=FLOAT),
                                     ctx.ints([-1], "axes")], f"{base}/gate")
        return ctx.add("Mul", [picked, gate], base)

    def last_gate(self, reverse: bool, zero_output: bool, base: str) -> str:
        """(N, 1) float: 1 where the last output of the processing order is the final state."""
        ctx = self.ctx
        if zero_output:  # the last processed step itself must be kept
            step = ctx.add("Gather", [self.keep, ctx.const(np.asarray(0 if reverse else -1,
                                                                      np.int64), "step")],
                           f"{base}/last_keep", axis=0)
        else:
            step = ctx.add("Greater", [self.lens, ctx.const(np.asarray(0, np.int64), "zero")],
                           f"{base}/any_kept")
        return ctx.add("Unsqueeze", [ctx.add("Cast", [step], f"{base}/last_f", to=FLOAT),
                                     ctx.ints([-1], "axes")], f"{base}/last_gate")
