"""What a TFLite conversion is asked to do: quantization mode, I/O type, Flex ops."""

from __future__ import annotations

from dataclasses import dataclass

from kerasport.errors import KerasportError

QUANT_MODES = ("none", "float16", "dynamic", "int8", "uint8")
IO_TYPES = ("float32", "int8", "uint8")
QUANTIZED_MODES = ("dynamic", "int8", "uint8")
FULL_INT_MODES = ("int8", "uint8")


@dataclass(frozen=True)
class TFLiteOptions:
    """Options of one TFLite conversion.

    ``quantize``: none (float32), float16 (weights), dynamic (int8 weights, float
    activations), int8 (full integer with representative data), uint8 (full integer with
    uint8 inputs/outputs). ``io_type``: the model's input/output type; None means float32,
    except uint8 for the uint8 mode. ``batch_size``: None keeps the batch dimension dynamic;
    an int fixes it (the Edge TPU compiler needs 1). ``calibration_samples``: at most this
    many representative samples are given to the converter.
    """

    quantize: str = "none"
    io_type: str | None = None
    allow_tf_ops: bool = False
    batch_size: int | None = None
    calibration_samples: int = 500

    def __post_init__(self) -> None:
        if self.quantize not in QUANT_MODES:
            raise KerasportError(f"unknown TFLite quantization '{self.quantize}': use one of "
                                 f"{', '.join(QUANT_MODES)}")
        if self.io_type is not None and self.io_type not in IO_TYPES:
            raise KerasportError(f"unknown --io-type '{self.io_type}': use one of "
                                 f"{', '.join(IO_TYPES)}")
        if self.quantize == "uint8" and self.io_type not in (None, "uint8"):
            raise KerasportError("--quantize uint8 is full int8 with uint8 inputs/outputs; for "
                                 "other I/O types use --quantize int8 --io-type ...")
        io = self.resolved_io_type
        if io != "float32" and self.quantize not in FULL_INT_MODES:
            raise KerasportError(f"--io-type {io} needs full integer quantization "
                                 f"(--quantize int8); '{self.quantize}' keeps float32 I/O")
        if self.batch_size is not None and self.batch_size < 1:
            raise KerasportError(f"batch size must be at least 1, got {self.batch_size}")

    @property
    def resolved_io_type(self) -> str:
        """The I/O type the converted model has."""
        if self.quantize == "uint8":
            return "uint8"
        return self.io_type or "float32"

    @property
    def needs_calibration(self) -> bool:
        """Full integer quantization needs representative data."""
        return self.quantize in FULL_INT_MODES

    @property
    def label(self) -> str:
        """A short name for reports: the mode and, when not float32, the I/O type."""
        io = self.resolved_io_type
        if self.quantize in FULL_INT_MODES:
            return f"int8 ({io} I/O)"
        return {"none": "float32", "float16": "float16",
                "dynamic": "dynamic-range int8"}[self.quantize]
