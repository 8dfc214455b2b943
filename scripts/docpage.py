"""Writing or checking a generated page: every docs generator renders its page from saved
results, then either writes it or (``--check``) reports whether the committed file matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def publish(path: Path, text: str, check: bool, command: str) -> int:
    """Write ``text`` to ``path``; with ``check``, write nothing and return 1 (saying which
    ``command`` regenerates it) if the file differs."""
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path.relative_to(ROOT)} is out of date: run {command}")
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


def between(text: str, start: str, end: str, inner: str) -> str:
    """``text`` with what lies between the ``start`` and ``end`` markers replaced."""
    if start not in text or end not in text:
        raise SystemExit(f"markers {start} ... {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{inner}\n{end}{tail}"


def save_json(path: Path, data: Any) -> None:
    """The saved results a page is rendered from (indented, one trailing newline)."""
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
