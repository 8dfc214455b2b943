"""Generate the op table of docs/pytorch-target.md from the PyTorch emitter registry
(run: python scripts/gen_pytorch_doc.py; ``--check`` only compares).

The table is never typed by hand: `make docs-check` fails when it differs from this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docpage import between, publish

from kerasport.export.pytorch import unavailable_ops
from kerasport.export.pytorch.activations import _SIMPLE as ACTIVATIONS
from kerasport.export.pytorch.activations import activation_expr
from kerasport.export.pytorch.helpers import EMITTERS
from kerasport.ops import all_ops, get_op

OUT = Path(__file__).resolve().parent.parent / "docs" / "pytorch-target.md"
START, END = "<!-- pytorch-ops:start -->", "<!-- pytorch-ops:end -->"


def _summary(fn) -> str:
    """The first paragraph of ``fn``'s docstring, on one line."""
    doc = (fn.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split()).replace("|", "\\|")


def _form(name: str) -> str:
    if name in ACTIVATIONS:  # show the expression itself
        return "`" + activation_expr({"op": name}, "x").replace("|", "\\|") + "`"
    return _summary(EMITTERS[name])


def render(text: str) -> str:
    """``text`` (the page) with its generated op table."""
    unavailable = unavailable_ops()
    rows = ["| IR op | family | PyTorch form |", "|---|---|---|"]
    for name in all_ops():
        family = get_op(name).kernel.__module__.rsplit(".", 1)[-1]
        form = (_form(name) if name in EMITTERS
                else f"**not available**: {unavailable[name]}")
        rows.append(f"| {name} | {family} | {form} |")
    count = (f"{len(EMITTERS)} of {len(all_ops())} IR ops are written for PyTorch; "
             f"{len(unavailable)} are refused with the reason below.")
    return between(text, START, END, count + "\n\n" + "\n".join(rows))


def main(argv: list[str]) -> int:
    """Write the page's table, or with --check report whether it is current."""
    page = OUT.read_text(encoding="utf-8")
    return publish(OUT, render(page), "--check" in argv, "python scripts/gen_pytorch_doc.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
