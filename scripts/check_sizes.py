"""Fail when a module in src/ is over MAX_MODULE_LINES lines or a function over
MAX_FUNCTION_LINES (read with ``ast``, nothing imported or run).

A function's size is its span in the file, decorators and docstring included, nested functions
counted in their parent too. The allowlist below names the few known exceptions, each with the
reason; it should only shrink.

    python scripts/check_sizes.py            # exit 1 and list what is too long
    python scripts/check_sizes.py --list     # every module and function over half the limit
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# "path relative to src:qualified function name" -> why it may stay long (for now)
ALLOWED: dict[str, str] = {}


def python_files(root: str) -> Iterator[str]:
    """Every .py file under ``root``, sorted."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def functions(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function and method in ``tree``."""
    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                yield prefix + child.name, child.end_lineno - first + 1
                yield from visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def measure(root: str = SRC) -> Iterator[tuple[str, str, int, int]]:
    """(kind, "path[:function]", lines, limit) for every module and function under ``root``."""
    for path in python_files(root):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        yield "module", rel, len(text.splitlines()), MAX_MODULE_LINES
        for name, lines in functions(ast.parse(text, filename=path)):
            yield "function", f"{rel}:{name}", lines, MAX_FUNCTION_LINES


def main(argv: list[str] | None = None) -> int:
    """Print what is over its limit (or near it with --list); 1 if anything is over."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true",
                        help="also list modules and functions over half their limit")
    parser.add_argument("--root", default=SRC, help="source folder (default: src/)")
    args = parser.parse_args(argv)
    over = 0
    for kind, where, lines, limit in measure(args.root):
        if lines > limit and where not in ALLOWED:
            over += 1
            print(f"{kind} {where}: {lines} lines (limit {limit})")
        elif args.list and lines > limit // 2:
            note = f"  [allowed: {ALLOWED[where]}]" if where in ALLOWED else ""
            print(f"  {kind} {where}: {lines} lines{note}")
    if over:
        print(f"{over} over the limit: split them into smaller, well-named functions/modules")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
