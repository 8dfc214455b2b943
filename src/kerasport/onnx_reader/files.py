"""Reading an .onnx file safely: size bounds, the protobuf parse, opsets, external data.

External data is refused: a model whose tensors live in other files would make the reader open
files the caller did not name (and ONNX lets those paths point anywhere). The message says how
to embed them (``onnx.save(model, path, save_as_external_data=False)``), which works for any
model under protobuf's 2 GB limit.
"""

from __future__ import annotations

import os
from typing import Any

from kerasport.errors import MissingExtraError, ModelFileError

MIN_OPSET = 11
# protobuf's own hard limit for one message
MAX_FILE_BYTES = 2**31 - 1
ONNX_DOMAINS = ("", "ai.onnx")
# tensor dtypes the reader accepts (no strings, bfloat16, float8, int4 ...; float16 models
# would run with float32 weights and arithmetic, so they are refused rather than changed)
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64")


def onnx_module() -> Any:
    """The ``onnx`` package, or a clear error naming the extra."""
    try:
        import onnx
    except ImportError as exc:
        raise MissingExtraError('reading ONNX files needs the onnx package: '
                                'pip install "kerasport[onnx]"') from exc
    return onnx


def newest_opset() -> int:
    """The newest default-domain opset the installed onnx package knows."""
    return int(onnx_module().defs.onnx_opset_version())


def _parse(path: str, data: bytes) -> Any:
    onnx = onnx_module()
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not an ONNX model, or a truncated one (the protobuf "
                             f"does not parse: {str(exc)[:200]})") from exc
    if not model.HasField("graph") or not model.graph.node and not model.graph.output:
        raise ModelFileError(f"{path}: not an ONNX model (no graph in the file); kerasport "
                             "reads .onnx files, .keras/.h5 files and its own bundles")
    return model


def opset_of(model: Any, path: str) -> int:
    """The default-domain opset, checked to be in MIN_OPSET .. newest_opset()."""
    versions = {o.domain: o.version for o in model.opset_import}
    version = next((versions[d] for d in ONNX_DOMAINS if d in versions), None)
    if version is None:
        raise ModelFileError(f"{path}: the model imports no default ONNX opset "
                             f"(opset_import: {sorted(versions)})")
    if version < MIN_OPSET:
        raise ModelFileError(f"{path}: opset {version} is older than {MIN_OPSET}, the oldest "
                             "kerasport reads; upgrade it with onnx.version_converter."
                             f"convert_version(model, {MIN_OPSET}) or re-export it")
    if version > newest_opset():
        raise ModelFileError(f"{path}: opset {version} is newer than the installed onnx "
                             f"package knows ({newest_opset()}); upgrade onnx")
    return int(version)


def _external(tensor: Any) -> bool:
    return tensor.data_location == 1 or len(tensor.external_data) > 0


def check_no_external_data(model: Any, path: str) -> None:
    """Refuse tensors stored in other files (listing them, and whether they exist)."""
    tensors = list(model.graph.initializer)
    tensors += [a.t for n in model.graph.node for a in n.attribute if a.HasField("t")]
    names = []
    for t in tensors:
        if _external(t):
            where = {e.key: e.value for e in t.external_data}.get("location", "?")
            beside = os.path.join(os.path.dirname(os.path.abspath(path)), where)
            state = "present" if os.path.isfile(beside) else "MISSING"
            names.append(f"'{t.name}' in '{where}' ({state})")
    if names:
        raise ModelFileError(
            f"{path}: {len(names)} tensor(s) are stored as external data, which kerasport "
            f"does not read (it opens no file but the one given): {', '.join(names[:10])}"
            f"{' ...' if len(names) > 10 else ''}; embed them with onnx.load(path) then "
            "onnx.save(model, path2, save_as_external_data=False)")


def read_model(path: str) -> tuple[Any, int]:
    """The parsed ModelProto of ``path`` and its opset; never opens another file."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path}: {size} bytes, over protobuf's 2 GB limit for one "
                                 "ONNX file")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES)
    except OSError as exc:
        raise ModelFileError(f"cannot open {path}: {exc}") from exc
    model = _parse(path, data)
    opset = opset_of(model, path)
    check_no_external_data(model, path)
    return model, opset


def looks_like_onnx(path: str) -> bool:
    """True for a path ending in .onnx (the format has no magic bytes)."""
    return os.fspath(path).lower().endswith(".onnx")
