"""One exception family for kerasport. Every message names what is at fault and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class KerasportError(Exception):
    """Base class of every error kerasport raises on purpose."""


class ModelFileError(KerasportError):
    """The file is not a readable Keras model or kerasport bundle (corrupt, truncated, unsafe)."""


class WeightsError(ModelFileError):
    """Weights are missing or their shapes do not fit the model's configuration."""


class InputError(KerasportError, ValueError):
    """Inputs given to ``predict`` do not fit the model (count, rank, shape or dtype)."""


class MissingExtraError(KerasportError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class VerificationError(KerasportError):
    """A bundle no longer reproduces the reference output recorded at conversion."""


@dataclass(frozen=True)
class LayerIssue:
    """Why one layer (or recorded Keras 3 operation, ``kind="operation"``) cannot be
    converted."""

    layer: str
    class_name: str
    reason: str
    key: str | None = None
    hint: str | None = None
    kind: str = "layer"

    def __str__(self) -> str:
        where = f"config key '{self.key}': " if self.key else ""
        if self.kind == "operation":
            text = f"operation '{self.layer}' (ops.{self.class_name}): {where}{self.reason}"
        else:
            text = f"'{self.layer}' ({self.class_name}): {where}{self.reason}"
        if self.hint:
            text += f"\n      hint: {self.hint}"
        return text


class UnsupportedLayerError(KerasportError):
    """Raised once, before anything is written, listing every layer that cannot be converted."""

    def __init__(self, issues: list[LayerIssue]):
        self.issues = list(issues)
        n_ops = sum(1 for issue in self.issues if issue.kind == "operation")
        counts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in (
            (len(self.issues) - n_ops, "layer"), (n_ops, "operation")) if n]
        lines = [f"{' and '.join(counts) or '0 layers'} cannot be converted:"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))
