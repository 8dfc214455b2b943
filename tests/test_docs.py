"""Generated docs are up to date with the code that generates them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_layers_doc_is_generated_and_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_layers_doc.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
