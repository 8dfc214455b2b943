"""Parent side of the workers: start them with resource limits, feed cases, enforce the
per-case timeout by killing the worker, and turn deaths and hangs into failures."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import TESTS_DIR
from .case import SECRET_BIN, SECRET_H5, Case, marker_bytes

MEMORY_LIMIT = 3 << 30  # RLIMIT_AS of a worker
FILE_LIMIT = 2 << 30  # RLIMIT_FSIZE: a runaway writer dies instead of filling the disk
STARTUP_TIMEOUT = 120.0
CASE_STEPS = 12  # a case may take this many time limits in all (it has up to 10 operations)


@dataclass
class Limits:
    """Limits: wall time per operation (s), address space (bytes), peak RSS per operation
    (MB)."""

    timeout: float = 5.0
    memory: int = MEMORY_LIMIT
    peak_mb: float = 1024.0


def default_decoys() -> dict[str, bytes]:
    """The decoys every worker directory holds: raw marker bytes and an HDF5 file of them."""
    import io

    import h5py
    import numpy as np

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for n in (1, 2, 3, 4, 8, 16, 64, 1024):
            f[f"leak{n}"] = np.frombuffer(marker_bytes(4 * n), "<f4")
    return {SECRET_BIN: marker_bytes(1 << 20), SECRET_H5: buf.getvalue()}


def _frame_from_dump(text: str) -> str:
    """Innermost kerasport frame (else innermost frame) of a faulthandler dump."""
    frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', text)
    for path, line, func in frames:  # faulthandler lists the most recent call first
        path = path.replace("\\", "/")
        if "/kerasport/" in path and "/tests/" not in path:
            return f"kerasport/{path.rsplit('/kerasport/', 1)[1]}:{line} {func}"
    if frames:
        path, line, func = frames[0]
        return f"(no kerasport frame) {Path(path).name}:{line} {func}"
    return "(no Python frame)"


@dataclass
class Worker:
    """One persistent worker process and its private working directory."""

    index: int
    root: Path
    limits: Limits
    proc: subprocess.Popen | None = None
    buffer: bytes = b""
    case: Case | None = None
    deadline: float = 0.0
    started: float = 0.0
    step: str = ""
    decoy_times: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        """The worker's working directory (holds the decoys)."""
        return self.root / f"w{self.index}"

    def start(self) -> None:
        """Start (or restart) the process and wait until it has imported kerasport."""
        self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
               "HDF5_USE_FILE_LOCKING": "FALSE"}
        limits = self.limits

        def preexec() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        log = open(self.dir / "worker.log", "ab")  # handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuzz.worker", str(self.dir / "crash.log"),
             str(self.dir / "hang.log")], cwd=self.dir, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, preexec_fn=preexec, start_new_session=True)
        log.close()
        self.buffer = b""
        msg = self._read_message(time.monotonic() + STARTUP_TIMEOUT)
        if not msg or "ready" not in msg:
            detail = (msg or {}).get("fatal", "") or (self.dir / "worker.log").read_text()[-3000:]
            self.stop()
            raise RuntimeError(f"fuzz worker failed to start:\n{detail}")

    def _read_message(self, deadline: float) -> dict | None:
        import select

        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def stop(self) -> list[str]:
        """Kill the worker, then whatever is left in its process group (processes it forked);
        returns those survivors' command lines."""
        orphans: list[str] = []
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            orphans = group_members(self.proc.pid)
            if orphans:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    f.close()
        self.proc = None
        return orphans

    def prepare(self, case: Case) -> dict:
        """Write the case's files and decoys; reset the decoys' access times."""
        for sub in ("case", "out"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
            (self.dir / sub).mkdir(parents=True)
        for leftover in self.dir.glob(".kerasport-*"):
            leftover.unlink()
        case.write(self.dir / "case")
        decoys = {**default_decoys_cached(), **case.decoys}
        self.decoy_times = {}
        for name, data in decoys.items():
            path = self.dir / name
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
            st = path.stat()
            old = st.st_mtime - 3600  # older than the mtime: any read updates it (relatime)
            os.utime(path, (old, st.st_mtime))
            self.decoy_times[name] = (old, st.st_mtime)
        return case.request(self.dir / "case", self.dir / "out", self.limits.timeout)

    def submit(self, case: Case) -> None:
        """Send a case; the caller then polls :meth:`poll`."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        req = self.prepare(case)
        self.case, self.step = case, ""
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.timeout
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()

    def fileno(self) -> int:
        """The fd to wait on."""
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def poll(self) -> dict | None:
        """The finished case's result, a synthesized one for a death or a timeout, or None
        while it still runs. Reads what is available without blocking."""
        import select

        eof = False
        assert self.proc is not None and self.proc.stdout is not None
        while select.select([self.fileno()], [], [], 0)[0]:
            chunk = os.read(self.fileno(), 1 << 16)
            if not chunk:
                eof = True
                break
            self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            msg = json.loads(line)
            if "step" in msg:  # the time limit is per operation
                self.step = msg["step"]
                self.deadline = min(time.monotonic() + self.limits.timeout,
                                    self.started + CASE_STEPS * self.limits.timeout)
            elif "result" in msg:
                return self._finish(msg["result"])
        if eof:
            self.proc.wait()
            return self._died()
        if time.monotonic() > self.deadline:
            return self._timeout()
        return None

    def _finish(self, result: dict) -> dict:
        result.setdefault("failures", [])
        for step, mb in (result.get("peaks") or {}).items():
            if mb > self.limits.peak_mb:
                result["failures"].append({
                    "kind": "memory", "action": step, "signature": f"peak RSS over "
                    f"{self.limits.peak_mb:.0f} MB in {step}",
                    "message": f"{mb:.0f} MB peak (model file {self.case.size()} bytes)"})
        result["failures"] += self._decoys_read()
        result["seconds"] = time.monotonic() - self.started
        if result.get("restart"):
            self.stop()
        self.case = None
        return result

    def _decoys_read(self) -> list[dict]:
        out = []
        for name, (atime, _) in self.decoy_times.items():
            if (self.dir / name).stat().st_atime != atime:
                out.append({"kind": "secret", "action": self.step or "case",
                            "signature": f"decoy file read ({name})",
                            "message": f"{name}, outside the model file, was read"})
        return out

    def _died(self) -> dict:
        assert self.proc is not None
        code = self.proc.returncode
        dump = (self.dir / "crash.log").read_text(errors="replace")
        name = signal.Signals(-code).name if code < 0 else f"exit {code}"
        kind = "memory" if code == -signal.SIGKILL else "died"
        self.stop()
        failure = {"kind": kind, "action": self.step, "signature": f"worker died ({name}) @ "
                   f"{_frame_from_dump(dump)}", "message": dump[-3000:]}
        return {"failures": [failure, *self._decoys_read()], "died": True,
                "seconds": time.monotonic() - self.started}

    def _timeout(self) -> dict:
        orphans = self.stop()
        dump = (self.dir / "hang.log").read_text(errors="replace")
        frame = _frame_from_dump(dump)
        failures = [{"kind": "timeout", "action": self.step,
                     "signature": f"timeout in {self.step} @ {frame}",
                     "message": f"over {self.limits.timeout:.0f} s; stack:\n{dump[-3000:]}"}]
        if orphans:
            failures.append({"kind": "orphan", "action": self.step,
                             "signature": f"process outlives its killed parent @ {frame}",
                             "message": f"still running after the worker was killed "
                                        f"(SIGKILL): {orphans}"})
        return {"failures": failures + self._decoys_read(), "died": True,
                "seconds": time.monotonic() - self.started}


def group_members(pgid: int) -> list[str]:
    """Processes of process group ``pgid`` (Linux /proc), as "pid command" strings."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                out.append(f"{stat.parent.name} {cmd.decode(errors='replace')[:120]}")
    return out


_DECOYS: dict[str, bytes] = {}


def default_decoys_cached() -> dict[str, bytes]:
    """:func:`default_decoys`, built once per process."""
    if not _DECOYS:
        _DECOYS.update(default_decoys())
    return _DECOYS
