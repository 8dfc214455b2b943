"""``kerasport batch``: several conversions from a JSON or TOML file, in order, one failing
and one skipped, a summary table, exit 1 on failure; malformed files are refused up front."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kerasport.batch import Task, read_batch_file, task_argv
from kerasport.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DIGITS = str(EXAMPLES / "digits_cnn.keras")


def _rows(out: str) -> dict[str, list[str]]:
    """The summary table's rows by task name."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("task "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        parts = re.split(r"\s{2,}", line.strip())
        rows[parts[0]] = parts
    return rows


def test_toml_batch_with_failure_and_skip(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")
    config = tmp_path / "jobs.toml"
    config.write_text(f"""
[[tasks]]
name = "bundle16"
convert_from = "{DIGITS}"
convert_to = "bundle"
output = "out/digits16.npz"
quantization = "float16"

[[tasks]]
name = "onnx"
convert_from = "{DIGITS}"
convert_to = "onnx"
output = "out/digits.onnx"

[[tasks]]
name = "missing"
convert_from = "no_such_model.keras"
convert_to = "tflite"

[[tasks]]
name = "tflite-dyn"
convert_from = "{DIGITS}"
convert_to = "tflite"
output = "out/digits_dynamic.tflite"
[tasks.quantization]
mode = "dynamic"
calibration = "{EXAMPLES / 'digits_test_x.npy'}"
labels = "{EXAMPLES / 'digits_test_y.npy'}"

[[tasks]]
name = "later"
convert_from = "{DIGITS}"
convert_to = "python"
output = "out/py"
skip = true
""")
    (tmp_path / "out").mkdir()
    code = main(["batch", str(config)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "[1/5] bundle16" in out and "[5/5] later" in out
    rows = _rows(out)
    assert list(rows) == ["bundle16", "onnx", "missing", "tflite-dyn", "later"]
    assert rows["bundle16"][-1] == "ok" and rows["bundle16"][2].endswith("MB")
    assert "float16 vs float32" in rows["bundle16"][3]
    assert rows["onnx"][-1] == "ok" and "ORT error" in rows["onnx"][3]
    assert rows["missing"][-1] == "FAILED" and "no such file" in rows["missing"][3]
    assert rows["tflite-dyn"][-1] == "ok" and "accuracy" in rows["tflite-dyn"][3]
    assert rows["later"][-1] == "skipped"
    assert (tmp_path / "out" / "digits_dynamic.tflite").exists()
    assert not (tmp_path / "out" / "py").exists()
    assert "3 converted, 1 failed, 1 skipped" in out


def test_json_batch_all_ok(tmp_path, capsys):
    config = tmp_path / "jobs.json"
    config.write_text(json.dumps({"tasks": [
        {"convert_from": DIGITS, "convert_to": "python", "output": "py",
         "quantization": {"mode": "int8"}},
        {"convert_from": DIGITS, "convert_to": "bundle", "output": "d.npz"},
    ]}))
    assert main(["batch", str(config)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r[-1] for r in rows.values()] == ["ok", "ok"]
    assert (tmp_path / "py" / "digits_cnn.py").exists() and (tmp_path / "d.npz").exists()


def test_task_argv():
    task = Task("t", "m.keras", "tflite", "o.tflite",
                {"mode": "int8", "calibration": "imgs", "io_type": "uint8",
                 "allow_tf_ops": True, "mean": [0.5, 0.5, 0.5]}, {"batch_size": 1})
    assert task_argv(task) == ["convert", "m.keras", "--to", "tflite", "-o", "o.tflite",
                               "--quantize", "int8", "--calibration", "imgs", "--io-type",
                               "uint8", "--allow-tf-ops", "--mean", "0.5,0.5,0.5",
                               "--batch-size", "1"]
    assert task_argv(Task("b", "m.keras", "bundle", quantization={"mode": "float16"}))[-2:] \
        == ["--weights", "float16"]


def test_paths_relative_to_config(tmp_path):
    (tmp_path / "sub").mkdir()
    config = tmp_path / "sub" / "b.json"
    config.write_text(json.dumps([{"convert_from": "m.keras", "convert_to": "onnx",
                                   "quantization": {"mode": "static",
                                                    "calibration": "x.npy"}}]))
    (task,) = read_batch_file(str(config))
    assert task.source == str(tmp_path / "sub" / "m.keras")
    assert task.quantization["calibration"] == str(tmp_path / "sub" / "x.npy")
    assert task.name == "m.keras"


@pytest.mark.parametrize("name,text,message", [
    ("bad.json", "{not json", "not valid JSON"),
    ("bad.toml", "[[tasks]\nx = 1", "not valid TOML"),
    ("empty.json", "[]", "non-empty list of tasks"),
    ("keys.json", '[{"convert_from": "m.keras", "convert_to": "onnx", "colour": 1}]',
     "unknown keys ['colour']"),
    ("from.json", '[{"convert_to": "onnx"}]', "'convert_from' is required"),
    ("to.json", '[{"convert_from": "m.keras", "convert_to": "coreml"}]',
     "convert_to 'coreml' is not one of"),
    ("quant.json", '[{"convert_from": "m", "convert_to": "tflite", "quantization": '
                   '{"bits": 4}}]', "'quantization' is a mode string"),
    ("skip.json", '[{"convert_from": "m", "convert_to": "tflite", "skip": "yes"}]',
     "'skip' must be true or false"),
    ("jobs.yaml", "tasks: []", "expected a .json or .toml file"),
])
def test_malformed_config(tmp_path, capsys, name, text, message):
    config = tmp_path / name
    config.write_text(text)
    assert main(["batch", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_missing_config(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
