"""What a worker does with one case, and the checks that make it fail (worker side).

Every step runs under :class:`Recorder.step`: a KerasportError is an accepted outcome, any
other exception a failure (signature: exception type and innermost kerasport frame). After a
failed step nothing new may be in the output directory, and no ``.kerasport-*`` temporary file
anywhere; decoy bytes may never reach a loaded model or an output file.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
import signal
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import kerasport
from kerasport.errors import KerasportError

from .case import MARKER
from .inputs import build_input

SECRET_PROBE = MARKER[2:]  # any 13 consecutive decoy bytes contain it


def kerasport_frame(tb) -> str:
    """``kerasport/path.py:line function`` of the innermost kerasport frame of ``tb``."""
    frames = traceback.extract_tb(tb)
    for fr in reversed(frames):
        path = fr.filename.replace("\\", "/")
        if "/kerasport/" in path and "/tests/" not in path:
            return f"kerasport/{path.rsplit('/kerasport/', 1)[1]}:{fr.lineno} {fr.name}"
    if frames:
        fr = frames[-1]
        return f"(no kerasport frame) {Path(fr.filename).name}:{fr.lineno} {fr.name}"
    return "(no frame)"


def _innermost(tb) -> str:
    frames = traceback.extract_tb(tb)
    if not frames:
        return ""
    fr = frames[-1]
    return f"{fr.filename}:{fr.lineno} {fr.name}"


def reset_peak() -> None:
    """Reset the process' peak RSS (VmHWM) where Linux allows it."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")


def peak_mb() -> float:
    """Peak RSS since the last reset, in MB."""
    try:
        with open("/proc/self/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024
    except (OSError, AttributeError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")} \
        if directory.exists() else set()


class Recorder:
    """Runs the steps of one case and collects failures."""

    def __init__(self, req: dict, progress):
        self.req = req
        self.progress = progress
        self.out = Path(req["out"])
        self.dirs = [self.out, Path(req["case_dir"]), Path.cwd()]
        self.failures: list[dict] = []
        self.outcomes: dict[str, str] = {}
        self.peaks: dict[str, float] = {}
        self.restart = False

    def fail(self, kind: str, action: str, signature: str, message: str = "", **extra) -> None:
        """Record one failure."""
        self.failures.append({"kind": kind, "action": action, "signature": signature,
                              "message": message[:2000], **extra})

    def step(self, action: str, fn, *, output: Path | None = None) -> Any:
        """Run ``fn()``; returns its value, or None if it raised."""
        self.progress(action)
        before = _files(self.out)
        reset_peak()
        value, failed = None, True
        try:
            value = fn()
            failed = False
            self.outcomes[action] = "ok"
        except KerasportError as exc:
            self.outcomes[action] = type(exc).__name__
        except (MemoryError, RecursionError) as exc:
            self._exception(action, exc, "memory" if isinstance(exc, MemoryError) else
                            "exception")
            self.restart = True
        except Exception as exc:  # anything else is what we are looking for
            self._exception(action, exc, "exception")
        self.peaks[action] = peak_mb()
        if failed:
            new = sorted(_files(self.out) - before)
            if new or (output is not None and output.exists()):
                self.fail("leftover", action, f"leftover after failed {action}",
                          f"new files after the failure: {new}")
        self.check_temp(action)
        return value

    def _exception(self, action: str, exc: BaseException, kind: str) -> None:
        frame = kerasport_frame(exc.__traceback__)
        self.outcomes[action] = type(exc).__name__
        self.fail(kind, action, f"{type(exc).__name__} @ {frame}", str(exc),
                  innermost=_innermost(exc.__traceback__),
                  traceback="".join(traceback.format_exception(type(exc), exc,
                                                               exc.__traceback__))[-6000:])

    def check_temp(self, action: str) -> None:
        """No kerasport temporary file may survive a step."""
        for d in self.dirs:
            temps = [p.name for p in d.glob(".kerasport-*")] if d.exists() else []
            if temps:
                self.fail("leftover", action, f"temporary file left by {action}", str(temps))
                for t in temps:
                    with contextlib.suppress(OSError):
                        (d / t).unlink()

    def check_secret(self, action: str, arrays: dict[str, np.ndarray] | None) -> None:
        """Decoy bytes in a loaded model's constants mean another file was read."""
        for name, arr in (arrays or {}).items():
            with contextlib.suppress(Exception):
                if SECRET_PROBE in np.ascontiguousarray(arr).tobytes():
                    self.fail("secret", action, f"decoy bytes loaded ({action})",
                              f"constant {name!r} holds bytes of a file outside the model")
                    return

    def check_outputs(self, action: str) -> None:
        """Decoy bytes in an output file; outputs must have the permissions open() gives."""
        umask = os.umask(0)
        os.umask(umask)
        want = 0o666 & ~umask
        for p in self.out.rglob("*"):
            if not p.is_file():
                continue
            if SECRET_PROBE in p.read_bytes():
                self.fail("secret", action, f"decoy bytes written ({action})",
                          f"{p.name} holds bytes of a file outside the model")
            mode = p.stat().st_mode & 0o777
            if mode != want and not p.name.endswith(".py"):
                self.fail("output-mode", action, f"output mode {oct(mode)} ({action})",
                          f"{p.name} has mode {oct(mode)}, expected {oct(want)} (umask)")
            p.unlink()


def read_input(path: str) -> list[np.ndarray]:
    """The arrays of a seed input file (.npy, or .npz in stored order)."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            return [data[k] for k in data.files]
    return [np.load(path, allow_pickle=False)]


def run_cli(rec: Recorder, action: str, argv: list[str], output: Path | None = None) -> None:
    """Run ``kerasport.cli.main(argv)`` with captured output and check what it did."""
    from kerasport.cli import main

    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(argv)
            except SystemExit as exc:  # argparse refusing an option value
                return exc.code if isinstance(exc.code, int) else 2

    before = _files(rec.out)
    rc = rec.step(action, call, output=output)
    if rc is None:
        return
    text = out.getvalue() + err.getvalue()
    if rc not in (0, 1, 2):
        rec.fail("cli", action, f"exit status {rc} ({action})", text[-500:])
    if "Traceback (most recent call last)" in text:
        rec.fail("cli", action, f"traceback printed ({action})", text[-2000:])
    if rc != 0:
        new = sorted(_files(rec.out) - before)
        if new:
            rec.fail("leftover", action, f"leftover after failed {action}",
                     f"exit {rc}, new files: {new}")
    if rc == 2:
        first = err.getvalue().lstrip().split("\n", 1)[0]
        if not first.startswith(("error:", "usage:")):
            rec.fail("cli", action, f"exit 2 without an 'error:' line ({action})", text[-500:])
        if "wrote " in out.getvalue():
            rec.fail("cli", action, f"printed 'wrote' then failed ({action})", text[-500:])
    rec.check_outputs(action)


def run_file_case(rec: Recorder) -> None:
    """load, predict, save + reload + verify, inspect_file, then the four CLI commands."""
    req = rec.req
    path, out = req["model"], rec.out
    model = rec.step("load", lambda: kerasport.load(path))
    if model is not None:
        rec.check_secret("load", model.graph.constants)
        x = read_input(req["input"])
        rec.step("predict", lambda: model.predict(x if len(x) > 1 else x[0]))
        saved = out / "api.npz"
        fresh = model.reference is None  # a bundle keeps the reference recorded in its file
        if rec.step("save", lambda: model.save(str(saved), weights=req["weights"]),
                    output=saved) is None and saved.exists():
            again = rec.step("reload", lambda: kerasport.load(saved))
            if again is not None:
                rec.check_secret("reload", again.graph.constants)

                def verify() -> None:
                    try:
                        again.verify()
                    except KerasportError as exc:
                        if fresh:
                            rec.fail("verify-after-save", "verify",
                                     f"fresh bundle fails verify ({type(exc).__name__})",
                                     str(exc))

                rec.step("verify", verify)
        rec.check_outputs("save")
    model = None  # let the loaded model (and any file it holds) go
    conv = rec.step("inspect_file", lambda: kerasport.inspect_file(path))
    if conv is not None and getattr(conv, "graph", None) is not None:
        rec.check_secret("inspect_file", conv.graph.constants)
    conv = None
    run_cli(rec, "cli-inspect", ["inspect", path])
    conv_out = out / "cli.npz"
    run_cli(rec, "cli-convert", ["convert", path, "-o", str(conv_out), "--weights",
                                 req["weights"]], conv_out)
    pred = out / ("pred.npy" if req["n_outputs"] == 1 else "pred.npz")
    run_cli(rec, "cli-predict", ["predict", path, "--input", req["input"], "-o", str(pred)],
            pred)
    run_cli(rec, "cli-verify", ["verify", path])


def run_predict_case(rec: Recorder) -> None:
    """A good model, hostile inputs: the API with a built input, or the CLI with a file."""
    req, spec = rec.req, rec.req["predict"]
    path = req["model"]
    if spec.get("cli"):
        cli = spec["cli"]
        target = rec.out / cli["output"] if cli.get("output") else None
        argv = ["predict", path, "--input", req["input"]]
        argv += ["-o", str(target)] if target is not None else []
        argv += ["--batch-size", cli["batch_size"]] if cli.get("batch_size") else []
        if target is not None and cli.get("output_is_dir"):
            target.mkdir(parents=True, exist_ok=True)
        run_cli(rec, "cli-predict", argv, target if target and not target.is_dir() else None)
        return
    model = rec.step("load", lambda: kerasport.load(path))
    if model is None:
        return
    ref = read_input(req["input"])
    try:
        x = build_input(spec["x"], ref, model.input_names)
        bs = build_input(spec["batch_size"], ref, model.input_names)
    except Exception as exc:  # a bug of the fuzzer, reported as such
        rec.fail("harness", "build-input", f"harness: {type(exc).__name__}", repr(exc))
        return
    rec.step("predict", lambda: model.predict(x, batch_size=bs))
    if spec.get("call"):
        rec.step("call", lambda: model(x))


def check_children(rec: Recorder) -> None:
    """No process started during the case may still run after it."""
    me = str(os.getpid())
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] == me and fields[0] != "Z":
                alive.append(stat.parent.name)
    if alive:
        rec.fail("orphan", "case", "child process still running after the case",
                 f"pids {alive}")


def check_fds(rec: Recorder) -> None:
    """No file of the case may stay open after the case."""
    gc.collect()
    case_dir = str(Path(rec.req["case_dir"]).resolve())
    leaked = []
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(case_dir) or target.startswith(str(rec.out.resolve())):
                leaked.append(target)
    if leaked:
        rec.fail("fd-leak", "case", "file left open after the case",
                 ", ".join(sorted(set(leaked))))


def run_selftest(rec: Recorder) -> None:
    """Misbehave on purpose (``predict["op"]``) so the tests can check each detector."""
    op = rec.req["predict"]["op"]

    def misbehave() -> None:
        if op == "sleep":
            time.sleep(3600)
        elif op == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif op == "alloc":
            bytearray(8 << 30)
        elif op == "peak":
            np.ones(300 << 20, np.uint8)  # over the self-test worker's 256 MB peak limit
        elif op == "read-decoy":
            Path("secret.bin").read_bytes()
        elif op == "raise":
            {}["missing"]
        elif op in ("fork-hang", "fork-leave"):
            if os.fork() == 0:  # the child outlives what the parent does next
                time.sleep(600)
                os._exit(0)
            if op == "fork-hang":
                time.sleep(3600)
        elif op == "leftover":
            (rec.out / "partial.npz").write_bytes(b"x")
            raise KerasportError("failed after writing")

    rec.step(f"selftest-{op}", misbehave)


def run_case(req: dict, progress) -> dict:
    """Run one case; returns its failures, outcomes and peak memory per step."""
    rec = Recorder(req, progress)
    Path(req["out"]).mkdir(parents=True, exist_ok=True)
    if req["mode"] == "predict":
        run_predict_case(rec)
    elif req["mode"] == "selftest":
        run_selftest(rec)
    else:
        run_file_case(rec)
    check_fds(rec)
    check_children(rec)
    return {"failures": rec.failures, "outcomes": rec.outcomes, "peaks": rec.peaks,
            "restart": rec.restart}
