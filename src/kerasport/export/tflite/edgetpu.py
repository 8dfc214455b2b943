"""Compile a full-int8 TFLite file for the Coral Edge TPU with ``edgetpu_compiler``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from kerasport.errors import KerasportError
from kerasport.io import atomic_write

COMPILER = "edgetpu_compiler"
DOCS = "https://coral.ai/docs/edgetpu/compiler/"


def compiled_path(tflite_path: str) -> str:
    """Where the compiled model goes: ``<name>_edgetpu.tflite`` beside the input (the
    compiler's own naming)."""
    stem, ext = os.path.splitext(tflite_path)
    return f"{stem}_edgetpu{ext or '.tflite'}"


def compile_for_edgetpu(tflite_path: str, timeout: float = 600.0) -> tuple[str | None, str]:
    """Run ``edgetpu_compiler`` on ``tflite_path`` when it is on PATH. Returns (path of the
    compiled model or None, a message for the user)."""
    exe = shutil.which(COMPILER)
    if exe is None:
        return None, (f"{COMPILER} is not on PATH: wrote the full-int8 model {tflite_path}, "
                      f"which the Edge TPU cannot run until compiled. Compile it on a Linux "
                      f"x86-64 machine with `{COMPILER} {os.path.basename(tflite_path)}` "
                      f"(install: {DOCS})")
    target = compiled_path(tflite_path)
    with tempfile.TemporaryDirectory() as work:
        try:
            done = subprocess.run([exe, "-s", "-o", work, tflite_path], capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KerasportError(f"{COMPILER} failed to run: {exc}") from exc
        produced = os.path.join(work, os.path.basename(compiled_path(tflite_path)))
        if done.returncode != 0 or not os.path.exists(produced):
            detail = (done.stderr or done.stdout).strip()[-800:]
            raise KerasportError(f"{COMPILER} failed (exit {done.returncode}) on "
                                 f"{tflite_path}: {detail}")
        atomic_write(target, lambda tmp: shutil.copyfile(produced, tmp))
    summary = [ln.strip() for ln in done.stdout.splitlines()
               if "mapped to Edge TPU" in ln or "will run on" in ln.lower()][:3]
    return target, f"compiled for the Edge TPU: {target}" + (
        " (" + "; ".join(summary) + ")" if summary else "")
