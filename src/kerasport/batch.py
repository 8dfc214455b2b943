"""``kerasport batch``: run the conversions listed in a JSON or TOML file, in order, keep going
when one fails, and end with a summary table.

A config holds a list of tasks (a JSON list, or ``{"tasks": [...]}``; in TOML ``[[tasks]]``)::

    [[tasks]]
    name = "digits int8"                   # optional; default: the output's file name
    convert_from = "digits_cnn.keras"      # paths are relative to the config file
    convert_to = "tflite"                  # bundle | python | onnx | tflite | edgetpu
    output = "out/digits_int8.tflite"      # optional; default: next to the model
    quantization = { mode = "int8", calibration = "x.npy", labels = "y.npy", io_type = "int8" }
    skip = false

``quantization`` may be just the mode (``"float16"``). Its mode means: bundle / python: the
weight storage (float32, float16, int8); onnx: dynamic or static; tflite: none, float16,
dynamic, int8 or uint8 (full int8 also takes ``range_estimator`` and ``int8_fallback``).
``options`` passes other ``convert`` flags (``opset``,
``batch_size``, ``inputs_as_nchw``), and those of PyTorch / TensorFlow sources converted by
their framework in a worker (``input_shape = [1, 3, 32, 32]``, ``network_name``,
``weights_file``, ``input_nodes``, ``output_nodes``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from kerasport._text import table
from kerasport.conversion import (
    TARGETS,
    ConversionResult,
    ConvertOptions,
    convert_with,
    default_output,
)
from kerasport.errors import KerasportError

TASK_KEYS = {"name", "convert_from", "convert_to", "output", "quantization", "skip", "options"}
QUANT_KEYS = {"mode", "calibration", "labels", "io_type", "allow_tf_ops", "scale", "mean", "std",
              "calibration_samples", "range_estimator", "int8_fallback"}
OPTION_KEYS = {"opset", "batch_size", "inputs_as_nchw", "converter", "tflite_lstm",
               "input_shape", "network_name", "input_nodes", "output_nodes", "weights_file"}
PATH_KEYS = ("calibration", "labels")


class ConfigError(KerasportError):
    """The batch file cannot be read or a task in it is malformed."""


@dataclass
class Task:
    """One conversion of a batch file."""

    name: str
    source: str
    target: str
    output: str | None = None
    quantization: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    skip: bool = False


@dataclass
class TaskResult:
    """How one task went: status is ok, FAILED or skipped; ``result`` is what
    ``kerasport.convert`` returned when the task converted."""

    task: Task
    status: str
    seconds: float = 0.0
    output: str | None = None
    size: int | None = None
    metric: str = ""
    error: str = ""
    result: ConversionResult | None = None


def _read_toml(path: str) -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise ConfigError("reading a TOML batch file on Python 3.10 needs tomli: pip "
                              "install tomli (or write the file as JSON)") from exc
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _read(path: str) -> Any:
    if not os.path.isfile(path):
        raise ConfigError(f"batch file {path}: no such file")
    if path.endswith(".toml"):
        return _read_toml(path)
    if not path.endswith(".json"):
        raise ConfigError(f"batch file {path}: expected a .json or .toml file")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc


def _task(raw: Any, i: int, base: str) -> Task:
    where = f"task {i + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table/object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - TASK_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; a task has {sorted(TASK_KEYS)}")
    for key in ("convert_from", "convert_to"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}: '{key}' is required (a string)")
    target = raw["convert_to"]
    if target not in TARGETS:
        raise ConfigError(f"{where}: convert_to '{target}' is not one of {', '.join(TARGETS)}")
    quant = raw.get("quantization", {})
    if isinstance(quant, str):
        quant = {"mode": quant}
    if not isinstance(quant, dict) or set(quant) - QUANT_KEYS:
        raise ConfigError(f"{where}: 'quantization' is a mode string or a table with keys "
                          f"{sorted(QUANT_KEYS)}; got {quant!r}")
    options = raw.get("options", {})
    if not isinstance(options, dict) or set(options) - OPTION_KEYS:
        raise ConfigError(f"{where}: 'options' may hold {sorted(OPTION_KEYS)}; got {options!r}")
    if not isinstance(raw.get("skip", False), bool):
        raise ConfigError(f"{where}: 'skip' must be true or false")
    quant = {k: os.path.join(base, v) if k in PATH_KEYS and isinstance(v, str) else v
             for k, v in quant.items()}
    if isinstance(options.get("weights_file"), str):  # a network script's state dict
        options = dict(options, weights_file=os.path.join(base, options["weights_file"]))
    output = raw.get("output")
    if output is not None and not isinstance(output, str):
        raise ConfigError(f"{where}: 'output' must be a path string")
    source = os.path.join(base, raw["convert_from"])
    name = raw.get("name") or os.path.basename(output or source)
    return Task(str(name), source, target, os.path.join(base, output) if output else None,
                quant, options, raw.get("skip", False))


def read_batch_file(path: str) -> list[Task]:
    """The tasks of a JSON or TOML batch file, all checked before any runs."""
    data = _read(path)
    raw = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: expected a non-empty list of tasks (a JSON list, "
                          "'tasks': [...], or [[tasks]] tables in TOML)")
    base = os.path.dirname(os.path.abspath(path))
    return [_task(t, i, base) for i, t in enumerate(raw)]


def task_argv(task: Task) -> list[str]:
    """The ``kerasport convert`` command line equivalent to ``task`` (to rerun one task by
    hand); ``run_task`` calls ``kerasport.convert`` directly."""
    argv = ["convert", task.source, "--to", task.target]
    if task.output:
        argv += ["-o", task.output]
    q = dict(task.quantization)
    mode = q.pop("mode", None)
    if mode is not None:
        argv += ["--weights" if task.target in ("bundle", "python") else "--quantize", str(mode)]
    for key, value in [*q.items(), *task.options.items()]:
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            argv += [flag] if value else []
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, str(value)]
    return argv


def _size(path: str | None) -> int | None:
    if not path or not os.path.exists(path):
        return None
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return os.path.getsize(path)


def task_options(task: Task) -> ConvertOptions:
    """The ``kerasport.convert`` options of ``task``: the quantization mode is the weight
    storage for bundle/python and ``quantize`` otherwise; other keys pass as they are."""
    q = dict(task.quantization)
    mode = q.pop("mode", None)
    if mode is not None:
        q["weights" if task.target in ("bundle", "python") else "quantize"] = str(mode)
    return ConvertOptions.create(task.target, **q, **task.options)


def run_task(task: Task) -> TaskResult:
    """Run one task through ``kerasport.convert`` (the code ``kerasport convert`` runs);
    never raises for a failed conversion (the error goes into the result)."""
    if task.skip:
        return TaskResult(task, "skipped")
    start = time.perf_counter()
    buffer = io.StringIO()
    result = None
    try:
        with contextlib.redirect_stdout(buffer):
            result = convert_with(task.source, task.output, task_options(task))
        status, error = "ok", ""
    except (KerasportError, OSError) as exc:
        status, error = "FAILED", (str(exc) or type(exc).__name__).splitlines()[0]
    except Exception as exc:  # keep going: the summary names the error
        status, error = "FAILED", f"{type(exc).__name__}: {exc}".splitlines()[0]
    lines = buffer.getvalue().splitlines() + (result.lines if result else [])
    for line in lines:
        print(f"    {line}")
    if result is None:
        return TaskResult(task, status, time.perf_counter() - start, _output(task),
                          error=error)
    return TaskResult(task, status, time.perf_counter() - start, result.output,
                      _size(result.output), result.metric, result=result)


def _output(task: Task) -> str | None:
    try:
        return default_output(task.source, task.target, task.output)
    except KerasportError:
        return None


def summary_table(results: list[TaskResult]) -> str:
    """task, target, size, error or accuracy, time, status: one row per task."""
    rows = []
    for r in results:
        size = f"{r.size / 1e6:.3f} MB" if r.size is not None else "-"
        what = r.metric or "-"
        if r.status == "FAILED":
            what = r.error.replace(os.path.dirname(r.task.source) + os.sep, "")
            what = what if len(what) <= 90 else what[:87] + "..."
        secs = f"{r.seconds:.1f} s" if r.status != "skipped" else "-"
        rows.append([r.task.name, r.task.target, size, what, secs, r.status])
    return table(rows, ["task", "target", "size", "error / accuracy", "time", "status"])


def run_batch(path: str) -> list[TaskResult]:
    """Run every task of the batch file ``path`` in order, printing progress and a summary."""
    tasks = read_batch_file(path)
    results = []
    for i, task in enumerate(tasks):
        head = f"[{i + 1}/{len(tasks)}] {task.name}: {os.path.basename(task.source)} -> " \
               f"{task.target}"
        if task.skip:
            print(f"{head}: skipped")
        else:
            print(f"{head} ...", flush=True)
        result = run_task(task)
        if result.status == "FAILED":
            print(f"    FAILED: {result.error}", flush=True)
        results.append(result)
    print()
    print(summary_table(results))
    failed = sum(r.status == "FAILED" for r in results)
    ok = sum(r.status == "ok" for r in results)
    skipped = len(results) - failed - ok
    print(f"\n{ok} converted, {failed} failed, {skipped} skipped")
    sys.stdout.flush()
    return results


def cmd_batch(args: Any) -> int:
    """``kerasport batch FILE``: exit 1 if any task failed."""
    results = run_batch(args.config)
    return 1 if any(r.status == "FAILED" for r in results) else 0
