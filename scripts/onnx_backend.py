"""Run ONNX's own backend test cases (shipped inside the onnx package) through kerasport's
ONNX reader and NumPy runtime, save the results to docs/onnx_backend.json and write
docs/onnx-ops.md (pass counts per op). A case runs when every op in it is one the reader
claims; it passes when every output matches the case's reference within the case's own
rtol/atol, is "refused" when the reader declines a configuration with its error, and fails
otherwise (wrong numbers or a crash: a bug). Usage:

    python scripts/onnx_backend.py            # run every case, save the JSON, write the page
    python scripts/onnx_backend.py --render   # the page from docs/onnx_backend.json
    python scripts/onnx_backend.py --check    # exit 1 if the page is not that rendering
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from docpage import publish, save_json  # noqa: E402

DOC, RESULTS = ROOT / "docs" / "onnx-ops.md", ROOT / "docs" / "onnx_backend.json"
DATA_DIRS = ("simple", "pytorch-converted", "pytorch-operator")
COMMAND = "python scripts/onnx_backend.py --render"


@dataclass
class BackendCase:
    """One model with reference inputs and outputs."""

    name: str
    source: str
    model: Any
    data: list[tuple[list[np.ndarray], list[np.ndarray]]]
    rtol: float
    atol: float


def _read_tensors(folder: str, prefix: str) -> list[np.ndarray]:
    import onnx
    from onnx import numpy_helper

    out = []
    for path in sorted(glob.glob(os.path.join(folder, f"{prefix}_*.pb")),
                       key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0])):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        out.append(numpy_helper.to_array(t))
    return out


def iter_cases() -> Iterator[BackendCase]:
    """Every node case (collect_testcases) and every model of the data folders."""
    import onnx
    from onnx import numpy_helper
    from onnx.backend.test.case.node import collect_testcases

    def arrays(items: Any) -> list[np.ndarray] | None:
        if any(isinstance(a, (list, tuple, dict)) for a in items):
            return None  # sequences and maps: not tensors
        return [numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else np.asarray(a)
                for a in items]

    for case in collect_testcases(None):
        data = [(arrays(i), arrays(o)) for i, o in case.data_sets or []]
        data = [] if any(i is None or o is None for i, o in data) else data
        yield BackendCase(case.name, "node", case.model, data, case.rtol, case.atol)
    base = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    for kind in DATA_DIRS:
        for folder in sorted(glob.glob(os.path.join(base, kind, "*"))):
            model_path = os.path.join(folder, "model.onnx")
            if not os.path.isfile(model_path):
                continue
            data = [(_read_tensors(d, "input"), _read_tensors(d, "output"))
                    for d in sorted(glob.glob(os.path.join(folder, "test_data_set_*")))]
            yield BackendCase(os.path.basename(folder), kind, onnx.load(model_path), data,
                              1e-3, 1e-7)


def case_ops(case: BackendCase) -> list[str]:
    """The op types of the case's main graph (default domain), sorted."""
    return sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
                   for n in case.model.graph.node})


def _compare(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
    got = np.asarray(got)
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    if want.dtype.kind in "fc":
        if not np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                           atol=atol, equal_nan=True):
            return f"max abs error {float(np.nanmax(np.abs(got - want))):.3g}"
        return ""
    if want.dtype == object or not np.array_equal(got.astype(want.dtype), want):
        return "values differ"
    return ""


def _inputs(model: Any) -> list[str]:
    inits = {t.name for t in model.graph.initializer}
    return [vi.name for vi in model.graph.input if vi.name not in inits]


def freeze(model: Any, inputs: list[np.ndarray]) -> Any:
    """A copy of ``model`` whose inputs after the first are initializers holding ``inputs``
    (kerasport reads weights, axes and shapes as constants: the backend cases feed them)."""
    import onnx
    from onnx import numpy_helper

    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    names = _inputs(model)
    keep = [vi for vi in frozen.graph.input if vi.name == names[0]]
    for name, array in zip(names[1:], inputs[1:]):
        frozen.graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
    del frozen.graph.input[:]
    frozen.graph.input.extend(keep)
    return frozen


def _upgrade(model: Any) -> Any:
    """The model converted to opset 11 by onnx.version_converter (what the reader's error
    suggests), or None if the converter fails."""
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, 11)
    except Exception:  # the converter raises many types for ops it cannot upgrade
        return None


def _read(model: Any) -> tuple[Any, str]:
    from kerasport.errors import KerasportError
    from kerasport.onnx_reader import read_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        try:
            return read_onnx(path)[0], ""
        except KerasportError as exc:
            return None, str(exc).replace(path, "model.onnx").splitlines()[-1].strip()[:200]


def run_case(case: BackendCase, claimed: set[str]) -> tuple[str, str]:
    """("unclaimed" | "pass" | "refused" | "fail" | "no-data", detail). A case the reader
    refuses because an input must be a constant is run again with every input but the first
    frozen into the model (once per data set)."""
    from kerasport.errors import KerasportError
    from kerasport.model import Model

    ops = case_ops(case)
    if not set(ops) <= claimed:
        return "unclaimed", ", ".join(sorted(set(ops) - claimed))
    if not case.data:
        return "no-data", ""
    try:
        model, upgraded = case.model, False
        graph, reason = _read(model)
        if graph is None and "older than" in reason:
            model, upgraded = _upgrade(model), True
            graph, reason = _read(model) if model is not None else (None, reason)
        frozen = graph is None and len(_inputs(model)) > 1 and (
            "constant" in reason or "depends on the input data" in reason)
        if frozen:
            graph, reason = _read(freeze(model, case.data[0][0]))
    except Exception as exc:  # a crash of the reader is a bug
        return "fail", f"reader crashed: {type(exc).__name__}: {str(exc)[:160]}"
    if graph is None:
        return "refused", reason
    model = Model(graph)
    for inputs, outputs in case.data:
        if frozen:
            inputs = inputs[:1]
        try:
            got = model(inputs if len(inputs) > 1 else inputs[0])
        except KerasportError as exc:  # a clear error at run time (e.g. an empty reduction)
            return "refused", f"at run time: {str(exc)[:160]}"
        except Exception as exc:
            return "fail", f"run failed: {type(exc).__name__}: {str(exc)[:160]}"
        got = got if isinstance(got, list) else [got]
        for g, w in zip(got, outputs):
            problem = _compare(g, w, case.rtol, case.atol)
            if problem:
                return "fail", problem
    return "pass", ", ".join(w for w, on in (("upgraded", upgraded), ("frozen", frozen)) if on)


def run_all() -> list[dict]:
    """Results of every case."""
    from kerasport.onnx_reader import supported_op_types

    claimed = set(supported_op_types())
    results = []
    for case in iter_cases():
        status, detail = run_case(case, claimed)
        results.append({"name": case.name, "source": case.source, "ops": case_ops(case),
                        "status": status, "detail": detail})
    return results


def totals_with(results: list[dict], word: str) -> int:
    """Passing cases that ran frozen or upgraded."""
    return sum(1 for r in results if r["status"] == "pass" and word in r["detail"])


def render(data: dict) -> str:
    """The page: totals, then one row per claimed op."""
    results = data["results"]
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[str, set[str]] = defaultdict(set)
    totals: dict[str, int] = defaultdict(int)
    for r in results:
        totals[r["status"]] += 1
        if r["status"] in ("pass", "refused", "fail"):
            for op in r["ops"]:
                per[op][r["status"]] += 1
                if r["status"] != "pass" and len(r["ops"]) == 1:
                    reasons[op].add(r["detail"].split(": ", 1)[-1][:90])
    lines = [
        "# ONNX ops: the backend test cases",
        "",
        "Generated by `scripts/onnx_backend.py` from `docs/onnx_backend.json` (onnx "
        f"{data['onnx_version']}): ONNX's own backend cases (`collect_testcases()` and the "
        f"{', '.join(DATA_DIRS)} folders), {len(results)} in all, run through kerasport's "
        "ONNX reader and NumPy runtime. A case runs when kerasport claims every op in it; it "
        "passes when every output is within the case's own tolerance; *refused* means the "
        "reader declined that configuration with a clear error before running (the reason "
        "is listed); *failed* would be a bug. kerasport reads weights, axes, shapes and "
        "bounds as constants: a case that feeds them as inputs is run again with every "
        "input but the first frozen into the model as an initializer "
        f"({totals_with(results, 'frozen')} of the passes). A model older than opset 11 is "
        "upgraded with `onnx.version_converter.convert_version(model, 11)` first, as the "
        f"reader's error suggests ({totals_with(results, 'upgraded')} of the passes).",
        "",
        f"Cases run: {totals['pass'] + totals['refused'] + totals['fail']} — passed "
        f"{totals['pass']}, refused {totals['refused']}, failed {totals['fail']}; "
        f"not claimed: {totals['unclaimed']}.",
        "",
        "| op | cases run | passed | refused | failed | why refused (single-op cases) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for op in sorted(per):
        c = per[op]
        why = "; ".join(sorted(reasons[op])[:3]).replace("|", "/")
        lines.append(f"| {op} | {c['pass'] + c['refused'] + c['fail']} | {c['pass']} | "
                     f"{c['refused']} | {c['fail']} | {why} |")
    fails = [r for r in results if r["status"] == "fail"]
    if fails:
        lines += ["", "## Failed cases", ""]
        lines += [f"- `{r['name']}` ({', '.join(r['ops'])}): {r['detail']}" for r in fails]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="render the saved results")
    parser.add_argument("--check", action="store_true", help="check the committed page")
    args = parser.parse_args()
    if not (args.render or args.check):
        import onnx

        save_json(RESULTS, {"onnx_version": onnx.__version__, "results": run_all()})
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    return publish(DOC, render(data), args.check, COMMAND)


if __name__ == "__main__":
    sys.exit(main())
