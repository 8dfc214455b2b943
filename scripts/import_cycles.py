"""List the import cycles inside src/kerasport, from the source alone (``ast``, nothing run).

Two graphs are built from every ``import`` / ``from ... import`` naming a kerasport module:
``top-level`` holds the imports run when a module is imported (module body, also inside
``if``/``try`` there), ``all`` adds the imports inside functions and methods. An import of
``kerasport.a.b`` is an edge to ``kerasport.a.b`` only (as grimp / import-linter count it), and
``from kerasport.a import b`` is an edge to ``kerasport.a.b`` when that is a module.

A cycle is reported as a strongly connected component (modules that all reach each other),
with one shortest loop through it as the example, and the count of elementary cycles (capped).
``--level package`` merges modules into units first: ``kerasport.X`` (a subpackage with
everything under it, or a top-level module), or deeper with ``--depth``.

    python scripts/import_cycles.py            # both graphs, modules and packages
    python scripts/import_cycles.py --count    # just the counts
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections import deque
from collections.abc import Iterator

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
CYCLE_CAP = 100_000

Graph = dict[str, set[str]]


def module_files(root: str, package: str = "kerasport") -> dict[str, str]:
    """Module name -> file path for every .py under ``root/package``."""
    found = {}
    for folder, _, files in os.walk(os.path.join(root, package)):
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), root)[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            found[".".join(rel)] = os.path.join(folder, name)
    return found


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(tree: ast.AST, module: str, is_package: bool,
             modules: set[str]) -> Iterator[tuple[str, bool]]:
    """(imported kerasport module, inside a function?) for every import in ``tree``."""
    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield _known(alias.name, modules), in_function
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(child, module, is_package)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    yield (sub if sub in modules else _known(base, modules)), in_function
            yield from visit(child, inner)

    yield from visit(tree, False)


def _known(name: str, modules: set[str]) -> str:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def build_graphs(root: str = ROOT) -> tuple[Graph, Graph]:
    """(top-level imports, all imports) as module -> imported kerasport modules."""
    files = module_files(root)
    names = set(files)
    top: Graph = {m: set() for m in names}
    every: Graph = {m: set() for m in names}
    for module, path in files.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith("__init__.py")
        for target, in_function in _imports(tree, module, is_package, names):
            if not target or target == module:
                continue
            every[module].add(target)
            if not in_function:
                top[module].add(target)
    return top, every


def collapse(graph: Graph, depth: int) -> Graph:
    """Merge modules into units named by their first ``depth`` dotted parts."""
    def unit(m: str) -> str:
        return ".".join(m.split(".")[:depth])

    out: Graph = {}
    for m, targets in graph.items():
        out.setdefault(unit(m), set()).update(unit(t) for t in targets)
    for u, targets in out.items():
        targets.discard(u)
    return out


def components(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    members.append(m)
                    if m == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return sorted(found)


def shortest_loop(graph: Graph, members: list[str]) -> list[str]:
    """One shortest cycle through the component's first member (breadth-first)."""
    inside = set(members)
    start = members[0]
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & inside):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    return members


def count_cycles(graph: Graph, members: list[str], cap: int = CYCLE_CAP) -> int:
    """Elementary cycles inside one component, each counted once from its smallest member
    (stops at ``cap``)."""
    order = sorted(members)
    count = 0
    for i, start in enumerate(order):
        allowed = set(order[i:])
        stack = [(start, iter(sorted(graph[start] & allowed)))]
        on_path = {start}
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(node)
            elif child == start:
                count += 1
                if count >= cap:
                    return count
            elif child not in on_path:
                on_path.add(child)
                stack.append((child, iter(sorted(graph[child] & allowed))))
    return count


def report(name: str, graph: Graph, verbose: bool) -> tuple[int, int]:
    """Print the cycles of ``graph``; returns (components, elementary cycles)."""
    comps = components(graph)
    loops = sum(count_cycles(graph, c) for c in comps)
    print(f"{name}: {len(comps)} cyclic components, {loops} elementary cycles"
          + (f" (capped at {CYCLE_CAP} per component)" if loops >= CYCLE_CAP else ""))
    if verbose:
        for c in comps:
            print(f"  {len(c)} modules: {' '.join(c)}")
            print(f"    e.g. {' -> '.join(shortest_loop(graph, c))}")
    return len(comps), loops


def main(argv: list[str] | None = None) -> int:
    """Print the cycles; exit 1 when there is any at module level among top-level imports."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=ROOT, help="the folder holding the kerasport package")
    p.add_argument("--depth", type=int, default=2, help="package level: dotted parts kept")
    p.add_argument("--count", action="store_true", help="only the counts")
    args = p.parse_args(argv)
    top, every = build_graphs(args.root)
    found = report("modules, top-level imports", top, not args.count)
    report("modules, all imports (function-level too)", every, not args.count)
    report(f"packages (depth {args.depth}), top-level imports", collapse(top, args.depth),
           not args.count)
    report(f"packages (depth {args.depth}), all imports", collapse(every, args.depth),
           not args.count)
    return 1 if found[0] else 0


if __name__ == "__main__":
    sys.exit(main())
