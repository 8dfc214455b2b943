"""The generated file's text, and the weights in safetensors format (written with NumPy: the
format is an 8-byte header length, a JSON header and the raw little-endian tensors)."""

from __future__ import annotations

import json
import textwrap

import numpy as np

from kerasport.export.pytorch.context import ModuleContext
from kerasport.export.pytorch.templates import HELPER_SOURCES

_ST_DTYPES = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64",
              "int32": "I32", "int8": "I8", "uint8": "U8", "bool": "BOOL"}

_LOADER = '''
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


def load_weights(path: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict in the safetensors file next to this one (read without pickle; the
    safetensors package reads the same file)."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), WEIGHTS)
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = (8 + size + int(o) for o in info["data_offsets"])
        dtype = _DTYPES[info["dtype"]]
        if begin == end:
            state[name] = torch.zeros(info["shape"], dtype=dtype)
        else:
            state[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(
                info["shape"])
    return state


def load_model(path: str | None = None) -> __CLS__:
    """__CLS__ with its trained weights, in eval mode."""
    model = __CLS__()
    model.load_state_dict(load_weights(path), strict=True)
    return model.eval()


def self_check(reference: str | None = None) -> float:
    """Run the reference input recorded at conversion (reference.npz next to this file) and
    return the max error relative to max(1, |reference output|)."""
    import numpy as np

    path = reference or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "reference.npz")
    with np.load(path, allow_pickle=False) as ref:
        inputs = [torch.from_numpy(ref[f"input_{i}"]) for i in range(__N_IN__)]
        want = [ref[f"output_{i}"] for i in range(__N_OUT__)]
    with torch.no_grad():
        got = load_model()(*inputs)
    got = [got] if isinstance(got, torch.Tensor) else list(got)
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        scale = max(1.0, float(np.abs(w).max())) if w.size else 1.0
        diff = np.abs(g.numpy().astype(np.float64) - w)
        worst = max(worst, float(diff.max()) / scale if diff.size else 0.0)
    return worst


if __name__ == "__main__":
    print(f"max relative error vs the reference: {self_check():.3g}")
'''


WIDTH = 100


def _split_top(text: str, seps: tuple[str, ...]) -> list[str]:
    """``text`` cut after each separator that is outside brackets and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            sep = next((s for s in seps if text.startswith(s, i)), None)
            if sep:
                parts.append(text[start:i + len(sep)])
                start = i + len(sep)
                i += len(sep)
                continue
        i += 1
    parts.append(text[start:])
    return parts


def _fill(head: str, parts: list[str], tail: str, indent: int) -> list[str] | None:
    lines, cur = [], head
    pad = " " * len(head)
    for part in parts:
        piece = part if cur == head else part.lstrip()
        if cur != head and len(cur.rstrip()) + len(piece) + indent > WIDTH:
            lines.append(cur.rstrip())
            cur = pad + piece.lstrip()
        else:
            cur += piece if cur == head else (piece if cur.endswith(" ") else " " + piece)
    lines.append(cur.rstrip() + tail)
    return lines if all(len(x) + indent <= WIDTH for x in lines) else None


def _wrap_call(lhs: str, rhs: str, tail: str, lead: str, indent: int) -> list[str] | None:
    """``lhs + rhs`` broken inside the call or list spanning all of ``rhs``: after its commas
    with the items aligned, or right after its bracket with a hanging indent."""
    opens = [i for i in (rhs.find("("), rhs.find("[")) if i >= 0]
    if not opens:
        return None
    open_at = min(opens)
    close = ")" if rhs[open_at] == "(" else "]"
    if not rhs.endswith(close) or len(_split_top(rhs[open_at:], (",",))) != 1:
        return None
    head = lhs + rhs[:open_at + 1]
    parts = _split_top(rhs[open_at + 1:-1], (",",))
    if len(parts) > 1:
        got = _fill(head, parts, close + tail, indent)
        if got:
            return got
    got = _fill(lead + "    ", [p.lstrip() for p in parts], close + tail, indent)
    return [head] + got if got and len(head) + indent <= WIDTH else None


def wrap(line: str, indent: int) -> list[str]:
    """A generated statement in lines of at most WIDTH characters (at ``indent``): broken in
    its outermost call (arguments aligned, or a hanging indent), inside parentheses before its
    top-level operators, or after ``=`` (left as it is if nothing fits)."""
    if len(line) + indent <= WIDTH or line.lstrip().startswith("#"):
        return [line]
    lead = line[:len(line) - len(line.lstrip())]
    eq = line.find(" = ")
    rhs_at = eq + 3 if eq >= 0 else len(lead)
    lhs, rhs = line[:rhs_at], line[rhs_at:]
    tail = ""
    if "  # " in rhs:
        rhs, tail = rhs.split("  # ", 1)
        tail = "  # " + tail
    got = _wrap_call(lhs, rhs, tail, lead, indent)
    if got:
        return got
    parts = _split_top(rhs, (" + ", " - ", " * ", " / "))
    if len(parts) > 1:
        got = _fill(lhs + "(", parts, ")" + tail, indent)
        if got:
            return got
    if eq >= 0 and len(lhs) + 2 + indent <= WIDTH:  # after the '=': a continuation line
        rest = wrap(lead + "    " + rhs + tail, indent)
        if all(len(x) + indent <= WIDTH for x in rest):
            return [lhs.rstrip() + " \\"] + rest
    # one expression too long to break cleanly (long layer names): kept whole, marked
    return [line if tail else line + "  # noqa: E501"]


def _signature(args: str, ret_type: str) -> str:
    """``def forward(...)``, its arguments on hanging lines when one line is too long."""
    line = f"    def forward(self, {args}) -> {ret_type}:"
    if len(line) <= WIDTH:
        return line
    body = _fill(" " * 8, [p.lstrip() for p in _split_top(f"self, {args}", (",",))], "", 0)
    return "\n".join(["    def forward("] + (body or [" " * 8 + f"self, {args}"])
                     + [f"    ) -> {ret_type}:"])


def class_name(graph_name: str) -> str:
    """A CamelCase class name from the model's name ('functional_1' -> 'Functional1')."""
    parts = [p for p in "".join(c if c.isalnum() else " " for c in graph_name).split() if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return name if name[0].isalpha() else "Model" + name


def module_source(ctx: ModuleContext, source: str, cls: str, weights_file: str) -> str:
    """The whole generated .py file."""
    outs = ctx.outputs()
    body = "\n".join(w for line in ctx.forward_lines for w in wrap(line, 8))
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    ret_type = "torch.Tensor" if len(outs) == 1 else (
        "tuple[" + ", ".join(["torch.Tensor"] * len(outs)) + "]")
    args = ", ".join(f"{a}: torch.Tensor" for a in ctx.args)
    init = "\n".join(w for line in ctx.init_lines for w in wrap(line, 8)) or "pass"
    helpers = "\n\n".join(HELPER_SOURCES[h].strip("\n") for h in ctx.helpers)
    outputs_doc = ", ".join(ctx.graph.output_names or ctx.graph.outputs)
    layout_doc = ("; feature maps are\n    channels-first inside, permuted once at the boundary"
                  if any("movedim(-1, 1)" in line for line in ctx.forward_lines) else "")
    cls_src = (
        f"class {cls}(nn.Module):\n"
        f'    """{ctx.graph.name}, converted by kerasport from {source}.\n\n'
        f"    Takes {', '.join(ctx.args)} as Keras did (channels-last){layout_doc}.\n"
        f"    Returns {outputs_doc}.\n"
        '    """\n\n'
        "    def __init__(self) -> None:\n"
        "        super().__init__()\n"
        f"{textwrap.indent(init, ' ' * 8)}\n\n"
        f"{_signature(args, ret_type)}\n"
        f"{textwrap.indent(body, ' ' * 8) if body else ''}\n"
        f"        return {ret}\n")
    text_so_far = helpers + cls_src
    imports = ["import json", "import os", "", "import torch"]
    if "F." in text_so_far:
        imports.append("import torch.nn.functional as F")
    imports.append("from torch import nn")
    header = (f'"""PyTorch module generated by kerasport from {source}.\n\n'
              f"    from {{this file}} import load_model\n"
              f"    model = load_model()  # {cls}() + load_state_dict(strict=True)\n\n"
              f"Run this file to check it against the reference recorded at conversion.\n"
              '"""\n\n'
              "from __future__ import annotations\n\n" + "\n".join(imports) + "\n\n"
              f"WEIGHTS = {weights_file!r}\n")
    parts = [header] + ([helpers + "\n"] if helpers else []) + [cls_src]
    loader = _LOADER.replace("__CLS__", cls).replace("__N_IN__", str(len(ctx.args))).replace(
        "__N_OUT__", str(len(outs)))
    return "\n\n".join(p.rstrip("\n") + "\n" for p in parts).replace("\n\n\n\n", "\n\n\n") \
        + "\n" + loader


def write_safetensors(path: str, state: dict[str, np.ndarray]) -> None:
    """``state`` as a safetensors file (tensors in name order, little-endian)."""
    header: dict[str, dict] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name in sorted(state):
        arr = np.ascontiguousarray(state[name])
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        data = arr.tobytes()
        header[name] = {"dtype": _ST_DTYPES[arr.dtype.name], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for blob in blobs:
            f.write(blob)
