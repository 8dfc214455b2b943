"""ONNX op converters, one module per op family (registered with ``@converter``)."""
