"""``python -m kerasport.delegate``: a PyTorch or TensorFlow source to a kerasport bundle,
exported by its own framework in a worker process; prints the error against the framework.

    python -m kerasport.delegate net.pt --input-shape 1,3,224,224 -o net.npz
    python -m kerasport.delegate net.py --network-name Net --input-shape 1,8 -o net.npz
    python -m kerasport.delegate saved_model_dir --input-shape 1,4 -o m.npz
    python -m kerasport.delegate frozen.pb --input-nodes x:0 --output-nodes y:0 \\
        --input-shape 1,4 -o m.npz

The bundle records the framework's output as its reference (``kerasport verify`` checks it)
and converts further like any bundle (``kerasport convert m.npz --to python``).
"""

from __future__ import annotations

import argparse
import os
import sys

from kerasport.delegate import from_tensorflow, from_torch
from kerasport.errors import KerasportError


def _names(text: str | None) -> list[str] | None:
    return text.split(",") if text else None


def main(argv: list[str] | None = None) -> int:
    """Parse, delegate, save the bundle, report; exit 2 with one error line on failure."""
    p = argparse.ArgumentParser(prog="python -m kerasport.delegate",
                                description=__doc__.splitlines()[0])
    p.add_argument("source", help=".pt (TorchScript), .py (network script), a SavedModel "
                                  "directory, a frozen .pb or a checkpoint .meta")
    p.add_argument("--input-shape", required=True, help="e.g. 1,3,224,224")
    p.add_argument("--network-name", help="the nn.Module class in the network script")
    p.add_argument("--weights", help="network script: a state dict (.pt) to load")
    p.add_argument("--input-nodes", help="TensorFlow graphs: comma-separated, e.g. x:0")
    p.add_argument("--output-nodes", help="TensorFlow graphs: comma-separated, e.g. y:0")
    p.add_argument("-o", "--output", help="the bundle (.npz); default: beside the source")
    args = p.parse_args(argv)
    try:
        shape = [int(d) for d in args.input_shape.split(",")]
    except ValueError:
        print(f"error: --input-shape {args.input_shape!r}: comma-separated ints",
              file=sys.stderr)
        return 2
    out = args.output or os.path.splitext(args.source.rstrip("/"))[0] + ".npz"
    try:
        if args.source.endswith((".pt", ".pth", ".py")):
            model = from_torch(args.source, shape, network_name=args.network_name,
                               weights=args.weights)
        else:
            model = from_tensorflow(args.source, shape, _names(args.input_nodes),
                                    _names(args.output_nodes))
        model.save(out)
    except KerasportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(model.graph.nodes)} ops); max relative error against "
          f"{model.meta['source_format']}: {model.meta['error_vs_source']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
