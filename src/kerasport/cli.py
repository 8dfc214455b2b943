"""The ``kerasport`` command: inspect, convert, predict, verify, batch, bench."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from kerasport._zip import read_npz
from kerasport.errors import InputError, KerasportError, UnsupportedLayerError
from kerasport.io import atomic_write, read_npy, staged_directory, staged_output


def _shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print one row per layer; exit 1 if any layer cannot be converted."""
    from kerasport.api import inspect_file

    conv = inspect_file(args.model)
    bad = {i.layer for i in conv.issues}
    rows = [["  " * r.depth + r.name, r.class_name, _shape(r.output_shape), f"{r.params:,}",
             "yes" if r.supported and r.name.rsplit("/", 1)[-1] not in bad else "NO"]
            for r in conv.rows]
    print(_table(rows, ["layer", "class", "output shape", "params", "supported"]))
    total = sum(r.params for r in conv.rows if r.depth == 0)
    print(f"\n{len(conv.rows)} layers, {total:,} parameters")
    if conv.issues:
        print()
        print(UnsupportedLayerError(conv.issues))
        return 1
    print("every layer is supported")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert a Keras file to a bundle or standalone Python (refuses to overwrite the input)."""
    import kerasport

    target = args.to
    out = args.output
    if target == "python":
        out = out or os.path.splitext(os.path.basename(args.model))[0] + "_standalone"
    elif target == "onnx":
        out = out or os.path.splitext(args.model)[0] + ".onnx"
    elif target in ("tflite", "edgetpu"):
        out = out or os.path.splitext(args.model)[0] + ".tflite"
    else:
        out = out or os.path.splitext(args.model)[0] + ".npz"
    if os.path.abspath(out) == os.path.abspath(args.model):
        raise KerasportError(f"refusing to overwrite the input file {args.model}")
    _note(args, output=out)
    start = time.perf_counter()
    model = kerasport.load(args.model)
    if target == "python":
        return _convert_python(args, model, out, start)
    if target == "onnx":
        return _convert_onnx(args, model, out, start)
    if target in ("tflite", "edgetpu"):
        from kerasport.export.tflite.cli import convert_tflite_cli

        return convert_tflite_cli(args, model, out)
    # written beside the target and verified there: the bundle appears only once it passed
    with staged_output(out) as tmp:
        model.save(tmp, weights=args.weights)
        size = os.path.getsize(tmp)
        bundle = kerasport.load(tmp)
        err = bundle.verify()
    elapsed = time.perf_counter() - start
    original = os.path.getsize(args.model)
    print(f"wrote {out} ({size / 1e6:.2f} MB = {size / original:.0%} of {args.model}, "
          f"{args.weights} weights, {model.graph.num_params():,} parameters, "
          f"{len(model.graph.nodes)} ops) in {elapsed:.2f} s")
    lossy = bundle.meta.get("weights_error_vs_float32")
    _note(args, metric=f"verify error {err:.1e}" if lossy is None
          else f"{args.weights} vs float32 error {lossy:.1e}")
    print(f"reference input recorded; verify: max relative error {err:.2e}"
          + (f"; {args.weights} weights vs float32: {lossy:.2e}" if lossy is not None else ""))
    return 0


def _convert_python(args: argparse.Namespace, model, out: str, start: float) -> int:
    from kerasport.export.python import export_python

    with staged_directory(out) as tmp:
        py_tmp, w_tmp = export_python(model, tmp, weights=args.weights)
        size = os.path.getsize(w_tmp)
    py_path = os.path.join(out, os.path.basename(py_tmp))
    w_path = os.path.join(out, os.path.basename(w_tmp))
    elapsed = time.perf_counter() - start
    print(f"wrote {py_path} and {w_path} ({size / 1e6:.2f} MB = "
          f"{size / os.path.getsize(args.model):.0%} of {args.model}, {args.weights} "
          f"weights) in {elapsed:.2f} s")
    print(f"run it with numpy only: python {py_path}  (self-check)")
    return 0


def _convert_onnx(args: argparse.Namespace, model, out: str, start: float) -> int:
    import tempfile

    from kerasport.export.onnx import export_onnx

    batch = None if args.batch_size in (None, "dynamic") else int(args.batch_size)
    if not args.quantize or args.quantize == "none":
        with staged_output(out) as tmp:
            proto = export_onnx(model, tmp, opset=args.opset, batch_size=batch,
                                inputs_as_nchw=args.inputs_as_nchw)
            size = os.path.getsize(tmp)
            report = _report_onnx(model, tmp, args)
        print(f"wrote {out} ({size / 1e6:.2f} MB, opset {args.opset}, "
              f"{len(proto.graph.node)} nodes) in {time.perf_counter() - start:.2f} s")
        print(report)
        return 0
    from kerasport.export.onnx.quantize import quantize_onnx
    from kerasport.export.tflite.cli import image_options
    from kerasport.quantize.calibration import load_calibration

    calibration = load_calibration(args.calibration, model, images=image_options(args)) \
        if args.calibration else None
    with tempfile.TemporaryDirectory() as work, staged_output(out) as tmp:
        float_path = os.path.join(work, "float.onnx")
        export_onnx(model, float_path, opset=args.opset, batch_size=batch,
                    inputs_as_nchw=args.inputs_as_nchw)
        quantize_onnx(float_path, tmp, args.quantize, model.input_names, calibration)
        size = os.path.getsize(tmp)
        ratio = size / os.path.getsize(float_path)
        report = _report_onnx(model, tmp, args, calibration)
    print(f"wrote {out} ({size / 1e6:.2f} MB, {ratio:.0%} of float, "
          f"{args.quantize} int8) in {time.perf_counter() - start:.2f} s")
    print(report)
    return 0


def _report_onnx(model, path: str, args: argparse.Namespace, data=None) -> str:
    """Run the file in ONNX Runtime (if installed) and compare with the NumPy runtime; returns
    the line to print."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime not installed: skipped the check (pip install 'kerasport[onnx]')"
    from kerasport.model import as_list, max_relative_error

    ref = data if data is not None else model.make_reference().inputs
    if args.batch_size not in (None, "dynamic"):
        n = int(args.batch_size)
        ref = [np.resize(a, (n, *a.shape[1:])) for a in ref]
    inputs = [np.moveaxis(a, -1, 1) if args.inputs_as_nchw and a.ndim >= 3 else a for a in ref]
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), inputs)})
    want = as_list(model(ref if len(ref) > 1 else ref[0]))
    err = max_relative_error([np.asarray(g) for g in got], want)
    agree = ""
    if want[0].ndim == 2 and want[0].shape[1] > 1:
        same = np.mean(np.argmax(got[0], 1) == np.argmax(want[0], 1))
        agree = f", same top-1 class on {same:.1%}"
    _note(args, metric=f"ORT error {err:.1e}")
    return f"ONNX Runtime vs kerasport: max relative error {err:.2e}{agree}"


def _note(args: argparse.Namespace, **figures: object) -> None:
    """Record a conversion's figures on ``args.notes`` when it is a dict (kerasport batch)."""
    notes = getattr(args, "notes", None)
    if isinstance(notes, dict):
        notes.update(figures)


def _read_inputs(path: str) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Inputs from a .npy file or a .npz keyed by input name, every size checked before it is
    allocated; a bad file is an InputError naming it."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        arrays = read_npz(path, InputError)
        if not arrays:
            raise InputError(f"{path}: holds no arrays")
        return arrays
    if path.endswith(".npz"):
        raise InputError(f"{path}: not a .npz archive (np.savez writes a zip file)")
    return [read_npy(path, InputError)]


def cmd_predict(args: argparse.Namespace) -> int:
    """Run a model on inputs from .npy/.npz and write the outputs."""
    import kerasport
    from kerasport.model import as_list

    model = kerasport.load(args.model)
    inputs = _read_inputs(args.input)
    if isinstance(inputs, dict):
        names = model.input_names
        if set(inputs) == set(names):
            feed = inputs
        elif len(inputs) == len(names):
            feed = [inputs[k] for k in sorted(inputs)] if len(names) > 1 else list(
                inputs.values())
        else:
            raise KerasportError(f"{args.input} holds {sorted(inputs)}; the model's inputs are "
                                 f"{names}")
    else:
        feed = inputs
    outs = as_list(model.predict(feed, batch_size=args.batch_size))
    names = model.output_names
    if args.output:
        target = args.output
        if target.endswith(".npy"):
            if len(outs) != 1:
                raise KerasportError("the model has several outputs: write them to a .npz")
            atomic_write(target, lambda tmp: np.save(tmp, outs[0]))
        else:
            keys = _unique(names)
            atomic_write(target, lambda tmp: _savez(tmp, dict(zip(keys, outs))))
        print(f"wrote {target}: " + ", ".join(f"{n} {o.shape}" for n, o in zip(names, outs)))
    else:
        for n, o in zip(names, outs):
            print(f"{n}: shape {o.shape}\n{o}")
    return 0


def _savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n] - 1}")
    return out


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-run the reference recorded in a bundle; exit 1 on drift."""
    import kerasport
    from kerasport.errors import VerificationError

    model = kerasport.load(args.model)
    if model.reference is None:
        model.reference = model.make_reference()
        print("no recorded reference (not a bundle): checked that the model runs")
    try:
        err = model.verify(args.tolerance)
    except VerificationError as exc:
        print(f"FAILED: {exc}")
        return 1
    print(f"OK: max relative error {err:.2e} (tolerance {args.tolerance:.0e})")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from kerasport.batch import cmd_batch

    return cmd_batch(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kerasport`` command."""
    p = argparse.ArgumentParser(prog="kerasport",
                                description="Run Keras models without TensorFlow.")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("inspect", help="list layers, shapes, parameters and support")
    s.add_argument("model")
    s.set_defaults(fn=cmd_inspect)
    s = sub.add_parser("convert", help="convert a .keras/.h5 file to a bundle or Python code")
    s.add_argument("model")
    s.add_argument("-o", "--output",
                   help="output .npz (bundle) or directory (python); default: next to the model")
    s.add_argument("--to", choices=["bundle", "python", "onnx", "tflite", "edgetpu"],
                   default="bundle",
                   help="bundle: one .npz for kerasport; python: a .py needing only numpy; "
                        "onnx: an ONNX model (needs the onnx extra); tflite / edgetpu: "
                        "TFLite (needs the tflite extra)")
    s.add_argument("--opset", type=int, default=17, help="ONNX opset (13 or newer)")
    s.add_argument("--batch-size", default="dynamic",
                   help="ONNX/TFLite batch dimension: N or dynamic")
    s.add_argument("--inputs-as-nchw", action="store_true",
                   help="ONNX: image inputs are fed channels-first")
    s.add_argument("--quantize",
                   choices=["none", "dynamic", "static", "float16", "int8", "uint8"],
                   help="ONNX: dynamic or static (int8 with ONNX Runtime); TFLite: none, "
                        "float16, dynamic, int8 (full integer) or uint8 (int8, uint8 I/O)")
    s.add_argument("--calibration", help="representative data: .npy, .npz keyed by input "
                                         "name, a folder of images, or a .py defining "
                                         "get_dataset()")
    s.add_argument("--scale", type=float, help="calibration images: pixel multiplier "
                                               "(default 1/255)")
    s.add_argument("--mean", help="calibration images: subtracted after scaling (one value "
                                  "or one per channel, comma-separated)")
    s.add_argument("--std", help="calibration images: divisor after the mean")
    s.add_argument("--io-type", choices=["float32", "int8", "uint8"],
                   help="TFLite full int8: type of the model's inputs and outputs")
    s.add_argument("--allow-tf-ops", action="store_true",
                   help="TFLite: allow TensorFlow (Flex) ops the TFLite builtins lack")
    s.add_argument("--labels", help="TFLite: .npy of the calibration samples' classes, to "
                                    "report accuracy")
    s.add_argument("--calibration-samples", type=int, default=500,
                   help="TFLite int8: how many of the calibration samples set the ranges "
                        "(all of them are used for the check)")
    s.add_argument("--weights", choices=["float32", "float16", "int8"], default="float32",
                   help="weight storage: float16 halves the size, int8 quarters the kernels")
    s.set_defaults(fn=cmd_convert)
    s = sub.add_parser("predict", help="run a model or bundle on inputs from .npy/.npz")
    s.add_argument("model")
    s.add_argument("--input", "-i", required=True, help=".npy (one input) or .npz (by name)")
    s.add_argument("-o", "--output", help=".npz (or .npy for one output); default: print")
    s.add_argument("--batch-size", type=int, default=None)
    s.set_defaults(fn=cmd_predict)
    s = sub.add_parser("verify", help="re-run a bundle's recorded reference, exit 1 on drift")
    s.add_argument("model")
    s.add_argument("--tolerance", type=float, default=1e-4)
    s.set_defaults(fn=cmd_verify)
    s = sub.add_parser("batch", help="run the conversions listed in a JSON or TOML file")
    s.add_argument("config", help="a .json or .toml file listing conversion tasks")
    s.set_defaults(fn=_cmd_batch)

    from kerasport.bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kerasport`` console script: exit 0 on success, 1 when a check
    fails (inspect: unsupported layers; verify: drift), 2 with one ``error:`` line for any
    error (a traceback only with ``--debug``)."""
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KerasportError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: internal error {type(exc).__name__}: {exc} (a kerasport bug: rerun "
              "with --debug for the traceback and please report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
