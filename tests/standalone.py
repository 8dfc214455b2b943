"""Run kerasport's generated standalone code in a subprocess that can import numpy and nothing
else (no kerasport, no site-packages)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_NUMPY_ONLY: str | None = None

_RUNNER = """
import sys
sys.path[:0] = [{numpy_dir!r}, {code_dir!r}]
import numpy as np
import {module} as m
data = np.load({inputs!r}, allow_pickle=False)
xs = [data[f"x{{i}}"] for i in range(len(data.files))]
y = m.predict(xs if len(xs) > 1 else xs[0])
y = list(y.values()) if isinstance(y, dict) else (y if isinstance(y, list) else [y])
np.savez({outputs!r}, *y)
err = m.self_check()
leaked = sorted(k for k in sys.modules if k.split(".")[0] in ("kerasport", "h5py", "keras",
                                                              "tensorflow", "tf_keras"))
print(json.dumps({{"self_check": err, "leaked": leaked}}))
"""


def numpy_only_dir() -> str:
    """A directory holding only numpy (symlinked), for a sys.path with nothing else."""
    global _NUMPY_ONLY
    if _NUMPY_ONLY is None:
        target = Path(tempfile.mkdtemp(prefix="numpy-only-"))
        src = Path(np.__file__).resolve().parent.parent
        for name in ("numpy", "numpy.libs"):
            if (src / name).exists():
                os.symlink(src / name, target / name)
        _NUMPY_ONLY = str(target)
    return _NUMPY_ONLY


def run_standalone(py_path: Path, inputs: list[np.ndarray], workdir: Path) -> tuple[list, dict]:
    """predict() of the generated module on ``inputs`` in an isolated interpreter (-I -S)."""
    in_path, out_path = workdir / "sa_in.npz", workdir / "sa_out.npz"
    np.savez(in_path, **{f"x{i}": x for i, x in enumerate(inputs)})
    script = "import json\n" + _RUNNER.format(
        numpy_dir=numpy_only_dir(), code_dir=str(py_path.parent), module=py_path.stem,
        inputs=str(in_path), outputs=str(out_path))
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out_path, allow_pickle=False) as data:
        outs = [data[f"arr_{i}"] for i in range(len(data.files))]
    return outs, info
