"""Which ONNX tensor holds each IR value, in which layout, and the derived copies the emitters
made of it: the layout bookkeeping of one ONNX export, as explicit state.

IR tensors are channels-last (``CL``). ONNX convolutions want channels-first (``CF``) and
ONNX Runtime's recurrent ops time-major (``TM``: (N, T, ...) held as (T, N, ...)). An IR value
may be held in several of these layouts at once, each by one ONNX tensor; ExportContext.get
makes a missing one from a held one (a Transpose, once) and records it here.

Besides the layouts, emitters keep derived forms of a value, each in its own named table (never
as made-up layout names): constants laid out for a broadcasting op of a higher rank, a value
with its last two axes swapped, a time-major mask's bool form, the input-time-order sequence of
a go_backwards recurrent op, and the layout a FoldTime folded its input in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CL, CF = "cl", "cf"
TM = "tm"  # time-major: (N, T, ...) held as (T, N, ...), for the recurrent ops
LAYOUTS = (CL, CF, TM)


@dataclass
class Layouts:
    """Where IR values live in the ONNX graph being built.

    - ``held``: IR value -> {layout: ONNX tensor holding it in that layout}.
    - ``broadcast``: (IR constant, layout, rank) -> the constant left-padded to ``rank`` and
      laid out for a broadcasting op in ``layout``.
    - ``swapped_last``: IR value -> ONNX tensor of it with its last two axes swapped (MatMul's
      ``transpose_b``).
    - ``mask_bools``: IR mask held time-major -> its bool form (what the recurrent ops read).
    - ``input_order``: go_backwards sequence output -> ONNX's time-major output in input time
      order (the reverse of Keras' processing order; a following Reverse takes it for free).
    - ``folded``: FoldTime's input -> the layout (CL or TM) it was folded in, so that
      UnfoldTime restores the same order.
    """

    held: dict[str, dict[str, str]] = field(default_factory=dict)
    broadcast: dict[tuple[str, str, int], str] = field(default_factory=dict)
    swapped_last: dict[str, str] = field(default_factory=dict)
    mask_bools: dict[str, str] = field(default_factory=dict)
    input_order: dict[str, str] = field(default_factory=dict)
    folded: dict[str, str] = field(default_factory=dict)

    def hold(self, value: str, name: str, layout: str = CL) -> None:
        """Record that ONNX tensor ``name`` holds IR ``value`` in ``layout``."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}: one of {LAYOUTS}")
        self.held.setdefault(value, {})[layout] = name

    def name(self, value: str, layout: str = CL) -> str | None:
        """The ONNX tensor holding ``value`` in ``layout``, or None if none does yet."""
        return self.held.get(value, {}).get(layout)

    def holds(self, value: str, layout: str) -> bool:
        """True if ``value`` is held in ``layout``."""
        return layout in self.held.get(value, {})

    def spatial(self, value: str) -> list[str]:
        """The batch-major layouts ``value`` is held in: CF, CL (in this order)."""
        return [lay for lay in (CF, CL) if self.holds(value, lay)]

    def release(self, value: str, layout: str) -> str:
        """Forget that ``value`` is held in ``layout`` (its tensor is being changed into
        something else); returns that tensor."""
        return self.held[value].pop(layout)

    def holders(self, name: str) -> int:
        """How many (value, layout) entries and derived forms name ONNX tensor ``name``."""
        count = sum(list(by.values()).count(name) for by in self.held.values())
        for table in (self.broadcast, self.swapped_last, self.mask_bools, self.input_order):
            count += list(table.values()).count(name)
        return count
