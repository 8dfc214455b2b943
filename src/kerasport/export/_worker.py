"""A long-lived child process that serves jobs one after another, so a framework (TensorFlow,
Keras) is imported once and never in the calling process; a crashed child is replaced.

The child is ``python -m MODULE``: it reads one job directory per line from stdin and answers
``done`` on stdout when the job's result (or its error.json) is in the directory.
"""

from __future__ import annotations

import os
import subprocess
import sys

_SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 2))


class JobWorker:
    """The calling side of one worker module (started on first use)."""

    def __init__(self, module: str, keras_backend: str | None = None) -> None:
        self.module = module
        self.keras_backend = keras_backend
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3",
                   KERAS_BACKEND=self.keras_backend or os.environ.get("KERAS_BACKEND",
                                                                     "tensorflow"))
        # the folder holding this kerasport package, so the child imports the same code
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
        return subprocess.Popen([sys.executable, "-m", self.module], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)

    def run(self, job: str) -> int | None:
        """Hand ``job`` to the child; None when it finished, else the child's exit code."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            self.proc.stdin.write(job + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            answer = ""
        if answer.strip() == "done":
            return None
        code = self.proc.wait()
        self.proc = None
        return code

    def close(self) -> None:
        """Let the child finish (it exits when its input closes)."""
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
