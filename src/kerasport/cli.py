"""The ``kerasport`` command: inspect, convert, predict, verify, batch, bench, report."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

from kerasport._text import shape_text, table
from kerasport._zip import read_npz
from kerasport.conversion.options import TARGETS
from kerasport.errors import InputError, KerasportError, UnsupportedLayerError
from kerasport.io import atomic_write, read_npy


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print one row per layer; exit 1 if any layer cannot be converted."""
    from kerasport.api import inspect_file

    conv = inspect_file(args.model, args.weights_file)
    bad = {i.layer for i in conv.issues}
    rows = [["  " * r.depth + r.name, r.class_name, shape_text(r.output_shape), f"{r.params:,}",
             "yes" if r.supported and r.name.rsplit("/", 1)[-1] not in bad else "NO"]
            for r in conv.rows]
    print(table(rows, ["layer", "class", "output shape", "params", "supported"]))
    total = sum(r.params for r in conv.rows if r.depth == 0)
    print(f"\n{len(conv.rows)} layers, {total:,} parameters")
    if conv.issues:
        print()
        print(UnsupportedLayerError(conv.issues))
        return 1
    print("every layer is supported")
    return 0


CONVERT_FLAGS = ("weights", "opset", "batch_size", "inputs_as_nchw", "quantize", "calibration",
                 "labels", "scale", "mean", "std", "io_type", "allow_tf_ops",
                 "calibration_samples", "weights_file", "converter", "tflite_lstm",
                 "range_estimator", "int8_fallback", "input_shape", "network_name",
                 "input_nodes", "output_nodes")


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert a model file through ``kerasport.convert`` and print its report (refuses to
    overwrite the input; prints nothing before the output is in place)."""
    from kerasport.conversion import convert

    result = convert(args.model, args.output, to=args.to,
                     **{k: getattr(args, k) for k in CONVERT_FLAGS})
    for line in result.lines:
        print(line)
    return 0


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
    from kerasport.model import as_list

    model = _load(args, engine=args.engine)
    for note in model.engine_notes:  # which engine runs, and why (stderr: stdout is data)
        print(note, file=sys.stderr)
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


def _load(args: argparse.Namespace, engine: str = "numpy"):
    """``kerasport.load`` of the command's model (with its --weights-file when given)."""
    import kerasport

    return kerasport.load(args.model, weights=args.weights_file, engine=engine)


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-run the reference recorded in a bundle; exit 1 on drift."""
    from kerasport.errors import VerificationError
    from kerasport.export.pytorch.check import is_pytorch_export, verify_directory

    if is_pytorch_export(args.model):  # a folder written by --to pytorch
        try:
            err = verify_directory(args.model, args.tolerance)
        except VerificationError as exc:
            print(f"FAILED: {exc}")
            return 1
        print(f"OK: max relative error {err:.2e} (tolerance {args.tolerance:.0e})")
        return 0
    model = _load(args)
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


def _weights_file_option(s: argparse.ArgumentParser) -> None:
    s.add_argument("--weights-file", metavar="FILE",
                   help="weights kept apart from the architecture given as the model (a "
                        "model.to_json() file, or a .keras/.h5 model): a save_weights .h5, a "
                        ".weights.h5, a .keras, or a TF checkpoint (its .index)")


def _add_convert(sub) -> None:
    s = sub.add_parser("convert", help="convert a model to a bundle, code, ONNX, TFLite, Keras 3 "
                                       "or PyTorch")
    s.add_argument("model")
    s.add_argument("-o", "--output",
                   help="output file or directory; default: next to the model")
    s.add_argument("--to", choices=list(TARGETS), default="bundle",
                   help="bundle: one .npz for kerasport; python: a .py needing only numpy; "
                        "onnx: an ONNX model (needs the onnx extra); tflite / edgetpu: "
                        "TFLite (needs the tflite extra); keras / keras-code: a Keras 3 "
                        ".keras file or keras.layers code; pytorch: an nn.Module")
    s.add_argument("--weights", choices=["float32", "float16", "int8"], default="float32",
                   help="weight storage: float16 halves the size, int8 quarters the kernels")
    _weights_file_option(s)
    s.add_argument("--opset", type=int, default=17, help="ONNX opset (13 or newer)")
    s.add_argument("--batch-size", default="dynamic",
                   help="ONNX/TFLite batch dimension: N or dynamic")
    s.add_argument("--inputs-as-nchw", action="store_true",
                   help="ONNX: image inputs are fed channels-first")
    s.add_argument("--quantize",
                   choices=["none", "dynamic", "static", "float16", "int8", "uint8"],
                   help="ONNX: dynamic or static (int8 with ONNX Runtime); TFLite: none, "
                        "float16, dynamic, int8 (full integer) or uint8 (int8, uint8 I/O)")
    _calibration_options(s)
    _tflite_options(s)
    _delegation_options(s)
    s.set_defaults(fn=cmd_convert)


def _calibration_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--calibration", help="representative data: .npy, .npz keyed by input "
                                         "name, a folder of images, or a .py defining "
                                         "get_dataset()")
    s.add_argument("--scale", type=float, help="calibration images: pixel multiplier "
                                               "(default 1/255)")
    s.add_argument("--mean", help="calibration images: subtracted after scaling (one value "
                                  "or one per channel, comma-separated)")
    s.add_argument("--std", help="calibration images: divisor after the mean")
    s.add_argument("--labels", help="TFLite: .npy of the calibration samples' classes, to "
                                    "report accuracy")
    s.add_argument("--calibration-samples", type=int, default=500,
                   help="TFLite int8: how many of the calibration samples set the ranges "
                        "(all of them are used for the check)")


def _tflite_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--io-type", choices=["float32", "int8", "uint8"],
                   help="TFLite full int8: type of the model's inputs and outputs")
    s.add_argument("--allow-tf-ops", action="store_true",
                   help="TFLite: allow TensorFlow (Flex) ops the TFLite builtins lack")
    s.add_argument("--converter", choices=["kerasport", "tensorflow"],
                   help="TFLite: kerasport's own writer (the default, full int8 included, no "
                        "TensorFlow) or TensorFlow's converter (needs the tflite-tf extra)")
    s.add_argument("--tflite-lstm", choices=["fused", "unrolled", "loop"], default="loop",
                   help="TFLite writer: LSTMs as UNIDIRECTIONAL_SEQUENCE_LSTM (fixed batch), "
                        "unrolled over time (dynamic batch) or a WHILE loop (fixed batch, the "
                        "fastest in LiteRT; LSTMs returning sequences stay fused)")
    s.add_argument("--range-estimator", choices=["minmax", "percentile", "mse"],
                   default="minmax", help="TFLite int8: how activation ranges are set from "
                   "the calibration data (percentile: 99.99th; mse: least quantization error)")
    s.add_argument("--int8-fallback", choices=["error", "float"], default="error",
                   help="TFLite int8: layers without an int8 kernel are refused (error) or "
                        "kept float32 between DEQUANTIZE/QUANTIZE (float)")


def _delegation_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--input-shape", help="PyTorch / TensorFlow sources (.pt, a network script "
                   ".py, a SavedModel without Keras metadata, .pb, .meta), exported to ONNX by "
                   "their framework in a worker: the input's shape, e.g. 1,3,224,224")
    s.add_argument("--network-name", help="a network script (.py): its nn.Module class, built "
                                          "without arguments (--weights-file: a state dict)")
    s.add_argument("--input-nodes", help="frozen .pb / checkpoint .meta: e.g. x:0")
    s.add_argument("--output-nodes", help="frozen .pb / checkpoint .meta: e.g. Identity:0")


def _add_inspect(sub) -> None:
    s = sub.add_parser("inspect", help="list layers, shapes, parameters and support")
    s.add_argument("model")
    _weights_file_option(s)
    s.set_defaults(fn=cmd_inspect)


def _add_run_commands(sub) -> None:
    s = sub.add_parser("predict", help="run a model or bundle on inputs from .npy/.npz")
    s.add_argument("model")
    s.add_argument("--input", "-i", required=True, help=".npy (one input) or .npz (by name)")
    s.add_argument("-o", "--output", help=".npz (or .npy for one output); default: print")
    s.add_argument("--batch-size", type=int, default=None)
    _weights_file_option(s)
    s.add_argument("--engine", choices=["numpy", "onnxruntime", "litert", "auto"],
                   default="numpy", help="numpy (default, no dependencies), onnxruntime, "
                   "litert, or auto: the fastest installed engine that runs every op")
    s.set_defaults(fn=cmd_predict)
    s = sub.add_parser("verify", help="re-run a bundle's recorded reference, exit 1 on drift")
    s.add_argument("model")
    s.add_argument("--tolerance", type=float, default=1e-4)
    _weights_file_option(s)
    s.set_defaults(fn=cmd_verify)
    s = sub.add_parser("batch", help="run the conversions listed in a JSON or TOML file")
    s.add_argument("config", help="a .json or .toml file listing conversion tasks")
    s.set_defaults(fn=_cmd_batch)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kerasport`` command."""
    from kerasport.bench.cli import add_parser as add_bench_parser
    from kerasport.report.cli import add_parser as add_report_parser

    p = argparse.ArgumentParser(prog="kerasport",
                                description="Run trained models without their framework.")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    _add_inspect(sub)
    _add_convert(sub)
    _add_run_commands(sub)
    add_bench_parser(sub)
    add_report_parser(sub)
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
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("error: interrupted (nothing was written)", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: internal error {type(exc).__name__}: {exc} (a kerasport bug: rerun "
              "with --debug for the traceback and please report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
