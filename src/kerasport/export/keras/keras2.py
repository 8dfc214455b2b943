"""What Keras 3 cannot read in a Keras 2 (tf_keras) layer, and its Keras 3 form.

Configs: keys Keras 3 dropped (``time_major``, BatchNormalization's ``fused``/``renorm``...)
are removed when they hold their neutral value and refused otherwise. TFOpLambda (a recorded
TensorFlow call such as ``x + 3.0`` -> ``tf.__operators__.add``) becomes the keras.ops
operation Keras 3 records for the same call (``ops.Add``), which it deserializes in safe mode.
"""

from __future__ import annotations

from typing import Any

from kerasport.errors import LayerIssue
from kerasport.export.keras.graph import KLayer
from kerasport.keras.config import CallNode, LayerSpec

# Keras 2 key -> the value under which dropping it changes nothing ("*": any value)
_DROPPED: dict[str, dict[str, Any]] = {
    "*": {"batch_input_shape": "*", "input_shape": "*", "batch_size": "*",
          "dynamic": False},
    "RNN": {"time_major": False},
    "ConvTranspose": {"groups": 1},
    # DepthwiseConv and SeparableConv: Keras 2 kept Conv's unused kernel_* keys
    "Separable": {"groups": 1, "kernel_initializer": "*", "kernel_regularizer": "*",
                  "kernel_constraint": "*"},
    "Depthwise": {"groups": 1, "kernel_initializer": "*", "kernel_regularizer": "*",
                  "kernel_constraint": "*", "filters": "*"},
    "SpatialDropout": {"noise_shape": None, "trainable": "*"},
    "Softmax": {"robust_masking": False},
    "BatchNormalization": {"fused": "*", "renorm": False, "renorm_clipping": "*",
                           "renorm_momentum": "*", "virtual_batch_size": None,
                           "adjustment": None},
    "Embedding": {"input_length": "*", "sparse": False},
    "MultiHeadAttention": {"query_shape": "*", "key_shape": "*", "value_shape": "*",
                           "softmax_robust_masking": False},
}
_RNN = {"SimpleRNN", "LSTM", "GRU", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
# classes Keras 3 no longer has
REMOVED = {"ThresholdedReLU", "LocallyConnected1D", "LocallyConnected2D", "DenseFeatures",
           "CuDNNLSTM", "CuDNNGRU", "SlicingOpLambda", "Lambda"}
_ONE_AXIS = {"BatchNormalization"}
_WRAPPED_KEYS = ("layer", "backward_layer", "cell")

OPS_NUMPY, OPS_NN = "keras.src.ops.numpy", "keras.src.ops.nn"
BINARY_OPS = {"__operators__.add": "Add", "math.add": "Add", "math.subtract": "Subtract",
              "math.multiply": "Multiply", "math.truediv": "TrueDivide",
              "math.divide": "Divide", "math.maximum": "Maximum", "math.minimum": "Minimum"}
UNARY_OPS = {"nn.relu": (OPS_NN, "Relu"), "nn.relu6": (OPS_NN, "Relu6"),
             "math.sigmoid": (OPS_NN, "Sigmoid"), "math.tanh": (OPS_NUMPY, "Tanh"),
             "nn.silu": (OPS_NN, "Silu"), "nn.swish": (OPS_NN, "Silu"),
             "math.exp": (OPS_NUMPY, "Exp"), "nn.gelu": (OPS_NN, "Gelu")}


def _drops(class_name: str) -> dict[str, Any]:
    rule = dict(_DROPPED["*"])
    if class_name in _RNN:
        class_name = "RNN"
    elif class_name.startswith(("DepthwiseConv", "SeparableConv")):
        class_name = class_name[:len("Depthwise")]
    elif class_name.startswith("Conv") and class_name.endswith("Transpose"):
        class_name = "ConvTranspose"
    elif class_name.startswith("SpatialDropout"):
        class_name = "SpatialDropout"
    rule.update(_DROPPED.get(class_name, {}))
    return rule


def keras3_config(class_name: str, config: dict[str, Any], where: str,
                  issues: list[LayerIssue]) -> dict[str, Any]:
    """``config`` of a Keras 2 layer of ``class_name`` in the form Keras 3 accepts; a key
    Keras 3 cannot express is reported in ``issues`` (``where`` names the layer)."""
    cfg = dict(config)
    if class_name == "InputLayer":
        return {k: v for k, v in cfg.items() if k not in ("input_shape", "batch_input_shape")}
    for key, neutral in _drops(class_name).items():
        if key not in cfg:
            continue
        value = cfg.pop(key)
        if neutral != "*" and value not in (neutral, None):
            issues.append(LayerIssue(where, class_name, f"{key}={value!r} has no Keras 3 "
                                     "form", key, "retrain or rebuild the layer without it"))
    if class_name in _ONE_AXIS and isinstance(cfg.get("axis"), list) and len(cfg["axis"]) == 1:
        cfg["axis"] = cfg["axis"][0]  # Keras 2 stores BatchNormalization's axis as a list
    for key in ("activation", "recurrent_activation"):
        if cfg.get(key) == "hard_sigmoid":
            issues.append(LayerIssue(
                where, class_name, "Keras 2's hard_sigmoid (clip(0.2 x + 0.5)) is not Keras 3's "
                "(clip(x / 6 + 0.5)), and Keras 3 has no activation with Keras 2's slope", key,
                "retrain with another activation, or convert to another target"))
    for key in _WRAPPED_KEYS:
        inner = cfg.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
            cfg[key] = _wrapped(inner, where, issues)
    if class_name == "StackedRNNCells" and isinstance(cfg.get("cells"), list):
        cfg["cells"] = [_wrapped(c, where, issues) for c in cfg["cells"]]
    return cfg


def _wrapped(raw: dict[str, Any], where: str, issues: list[LayerIssue]) -> dict[str, Any]:
    class_name = str(raw.get("class_name"))
    return {"module": raw.get("module") or LAYERS_MODULE, "class_name": class_name,
            "config": keras3_config(class_name, raw["config"], where, issues),
            "registered_name": raw.get("registered_name")}


LAYERS_MODULE = "keras.layers"


def lower_tf_op(spec: LayerSpec, issues: list[LayerIssue]) -> KLayer | None:
    """A TFOpLambda layer -> the keras.ops operation Keras 3 records for the same call."""
    fn = str(spec.config.get("function"))
    calls = []
    for call in spec.inbound:
        args = list(call.args)
        kwargs = {k: v for k, v in call.kwargs.items() if k != "name"}
        if fn in BINARY_OPS:
            x = args[0] if args else kwargs.pop("x", None)
            y = args[1] if len(args) > 1 else kwargs.pop("y", None)
            if x is None or y is None or kwargs:
                issues.append(LayerIssue(spec.name, "TFOpLambda", f"tf.{fn} called with "
                                         f"arguments {sorted(kwargs)} has no keras.ops form"))
                return None
            calls.append(CallNode([x, y], {}))
        elif fn in UNARY_OPS:
            calls.append(CallNode(args[:1], {}))
        else:
            supported = ", ".join(f"tf.{f}" for f in sorted([*BINARY_OPS, *UNARY_OPS]))
            issues.append(LayerIssue(spec.name, "TFOpLambda", f"TensorFlow function tf.{fn} "
                                     "has no Keras 3 layer or keras.ops form here", "function",
                                     f"supported: {supported}"))
            return None
    module, op = (OPS_NUMPY, BINARY_OPS[fn]) if fn in BINARY_OPS else UNARY_OPS[fn]
    config: dict[str, Any] = {"name": spec.name}
    if op == "Gelu":  # tf.nn.gelu defaults to the exact form
        config["approximate"] = bool(spec.inbound[0].kwargs.get("approximate", False))
    return KLayer(spec.name, op, config, calls, module, op, source=f"{spec.name} (TFOpLambda)")


def keras3_calls(class_name: str, calls: list[CallNode]) -> list[CallNode]:
    """Keras 2 records an RNN called with ``initial_state`` as one call on the list
    [inputs, *states]; Keras 3 takes the states as the ``initial_state`` keyword."""
    if class_name not in _RNN | {"Bidirectional"}:
        return calls
    out = []
    for call in calls:
        args = call.args
        if (len(args) == 1 and isinstance(args[0], list) and len(args[0]) > 1
                and "initial_state" not in call.kwargs):
            call = CallNode([args[0][0]], {**call.kwargs, "initial_state": args[0][1:]})
        out.append(call)
    return out
