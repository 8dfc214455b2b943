"""A fuzz case: the files it consists of, what was mutated, and how the worker runs it; saved
to (and read back from) a directory for replay."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .seeds import Seed

MARKER = b"KPSECRET"  # the decoy files' content: finite float32 pairs, easy to spot
SECRET_BIN = "secret.bin"  # decoy read by external-storage mutants (relative to the cwd)
SECRET_H5 = "secret.h5"  # decoy HDF5 file for external links and virtual datasets
CASE_JSON = "case.json"


@dataclass
class Case:
    """One input to the code under test.

    ``files`` are written into the case directory (``model`` and ``input`` name two of them);
    ``decoys`` into the worker's working directory, next to the default decoys. ``mode`` is
    "file" (load, inspect, predict, save, verify and the CLI) or "predict" (bad inputs to a
    good model: ``predict`` holds the input spec, batch size and CLI options).
    """

    family: str
    seed: str
    mutation: str
    model: str
    files: dict[str, bytes]
    input: str
    n_outputs: int = 1
    decoys: dict[str, bytes] = field(default_factory=dict)
    mode: str = "file"
    predict: dict | None = None
    weights: str = "float32"

    def size(self) -> int:
        """Bytes of the model file (smaller reproducers are kept)."""
        return len(self.files[self.model])

    def request(self, case_dir: Path, out_dir: Path, timeout: float) -> dict:
        """The message sent to a worker to run this case from ``case_dir``."""
        return {"model": str(case_dir / self.model), "input": str(case_dir / self.input),
                "out": str(out_dir), "case_dir": str(case_dir), "mode": self.mode,
                "predict": self.predict, "weights": self.weights,
                "n_outputs": self.n_outputs, "timeout": timeout}

    def write(self, case_dir: Path) -> None:
        """Write the case's files into an empty ``case_dir``."""
        for name, data in self.files.items():
            (case_dir / name).write_bytes(data)

    def save(self, directory: Path, failures: list[dict]) -> None:
        """Save for replay: files, decoys and case.json (with the failures seen)."""
        if directory.exists():
            shutil.rmtree(directory)
        (directory / "decoys").mkdir(parents=True)
        self.write(directory)
        for name, data in self.decoys.items():
            (directory / "decoys" / name).write_bytes(data)
        meta = {k: v for k, v in asdict(self).items() if k not in ("files", "decoys")}
        meta["file_names"] = sorted(self.files)
        meta["decoy_names"] = sorted(self.decoys)
        meta["failures"] = failures
        (directory / CASE_JSON).write_text(json.dumps(meta, indent=1, default=str))


def load_case(directory: Path) -> Case:
    """Read a case saved by :meth:`Case.save`."""
    meta = json.loads((directory / CASE_JSON).read_text())
    files = {n: (directory / n).read_bytes() for n in meta.pop("file_names")}
    decoys = {n: (directory / "decoys" / n).read_bytes() for n in meta.pop("decoy_names")}
    meta.pop("failures", None)
    return Case(files=files, decoys=decoys, **meta)


def file_case(family: str, seed: Seed, data: bytes, mutation: str, rng: random.Random,
              decoys: dict[str, bytes] | None = None) -> Case:
    """A "file" case: ``data`` replaces the seed's model file; the seed's input is kept."""
    ext = seed.path.name.split(".", 1)[1] if "." in seed.path.name else "bin"
    model = f"model.{ext}"
    inp = "input" + seed.input.suffix
    weights = rng.choice(["float32", "float32", "float16", "int8"])
    return Case(family, seed.name, mutation, model, {model: data, inp: seed.input.read_bytes()},
                inp, seed.n_outputs, dict(decoys or {}), weights=weights)


def marker_bytes(n: int) -> bytes:
    """``n`` bytes of the repeated decoy marker."""
    return (MARKER * (n // len(MARKER) + 1))[:n]
