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
    """Why one layer cannot be converted."""

    layer: str
    class_name: str
    reason: str
    key: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"config key '{self.key}': " if self.key else ""
        text = f"'{self.layer}' ({self.class_name}): {where}{self.reason}"
        if self.hint:
            text += f"\n      hint: {self.hint}"
        return text


class UnsupportedLayerError(KerasportError):
    """Raised once, before anything is written, listing every layer that cannot be converted."""

    def __init__(self, issues: list[LayerIssue]):
        self.issues = list(issues)
        n = len(self.issues)
        lines = [f"{n} layer{'s' if n != 1 else ''} cannot be converted:"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))
