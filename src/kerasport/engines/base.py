"""What an engine is: a name, the extra that installs it, and a way to build a runner.

A runner takes the input arrays in graph order (already checked by ``Model``) and returns the
output arrays in graph order; ``Model.predict`` does the batching and the structure (list or
dict) around it, so every engine has the same semantics.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasport.errors import KerasportError, MissingExtraError

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]


class EngineUnavailable(KerasportError):
    """The engine cannot run this model here (package missing, op unsupported, no writer)."""


def installed(*modules: str) -> bool:
    """True if every module can be imported (found, not imported: cheap)."""
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def require(module: str, engine: str, extra: str) -> Any:
    """Import ``module`` for ``engine``; MissingExtraError naming the extra if absent."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"the {engine} engine needs the '{module}' package: "
                                f"pip install 'kerasport[{extra}]'") from exc


def ops_without(model: Any, supported: set[str],
                reasons: dict[str, str] | None = None) -> list[str]:
    """One line per op of ``model`` the engine cannot run: 'Op (layer 'name': why)'."""
    reasons = reasons or {}
    missing = sorted({(n.op, n.layer) for n in model.graph.nodes if n.op not in supported})
    return [f"{op} (layer '{layer}'{': ' + reasons[op] if op in reasons else ''})"
            for op, layer in missing]


def wrap_errors(engine: str, run: Runner) -> Runner:
    """``run`` with its failures turned into KerasportError naming the engine."""

    def guarded(arrays: list[np.ndarray]) -> list[np.ndarray]:
        try:
            return run(arrays)
        except KerasportError:
            raise
        except Exception as exc:
            raise KerasportError(f"the {engine} engine failed to run the model: "
                                 f"{type(exc).__name__}: {exc} (engine='numpy' runs it in "
                                 "kerasport's own runtime)") from exc

    return guarded
