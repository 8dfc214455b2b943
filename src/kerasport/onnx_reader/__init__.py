"""The ONNX reader: .onnx files into kerasport's IR (the ``onnx`` package parses the protobuf;
nothing else is imported, and no file but the one given is opened).

    from kerasport.onnx_reader import read_onnx
    graph, facts = read_onnx("model.onnx")
"""

from kerasport.onnx_reader.files import MIN_OPSET, looks_like_onnx, newest_opset
from kerasport.onnx_reader.reader import inspect_onnx, read_onnx
from kerasport.onnx_reader.registry import supported_op_types

__all__ = ["MIN_OPSET", "inspect_onnx", "looks_like_onnx", "newest_opset", "read_onnx",
           "supported_op_types"]
