"""The few protobuf messages the SavedModel and checkpoint readers need, defined here.

Why not generated ``_pb2`` modules: protoc's output checks the protobuf runtime version it was
generated for (``ValidateProtobufRuntimeVersion``) and breaks across protobuf majors; and why not
TensorFlow's own classes: readers never import TensorFlow. So the messages are declared below as
plain tables (field name, number, type) with the field numbers of TensorFlow's and tf_keras'
.proto files, compiled at runtime into a private descriptor pool (never the default one, where
TensorFlow registers the same names). Fields not declared are skipped by the parser.

Sources of the field numbers: tensorflow/core/protobuf/tensor_bundle.proto (BundleHeaderProto,
BundleEntryProto), tensorflow/core/framework/tensor_shape.proto, trackable_object_graph.proto,
saved_model.proto / meta_graph.proto / saved_object_graph.proto, and
tf_keras/protobuf/saved_metadata.proto.
"""

from __future__ import annotations

import functools
from typing import Any

from kerasport.errors import MissingExtraError

PACKAGE = "kerasport_proto"

# message -> [(field, number, type, repeated)]; a type is a scalar name or another message
MESSAGES: dict[str, list[tuple[str, int, str, bool]]] = {
    "Dim": [("size", 1, "int64", False)],
    "TensorShapeProto": [("dim", 2, "Dim", True), ("unknown_rank", 3, "bool", False)],
    "VersionDef": [("producer", 1, "int32", False)],
    "BundleHeaderProto": [("num_shards", 1, "int32", False), ("endianness", 2, "int32", False),
                          ("version", 3, "VersionDef", False)],
    "TensorSliceProto": [("extent", 1, "bytes", True)],
    "BundleEntryProto": [("dtype", 1, "int32", False), ("shape", 2, "TensorShapeProto", False),
                         ("shard_id", 3, "int32", False), ("offset", 4, "int64", False),
                         ("size", 5, "int64", False), ("crc32c", 6, "fixed32", False),
                         ("slices", 7, "TensorSliceProto", True)],
    "ObjectReference": [("node_id", 1, "int32", False), ("local_name", 2, "string", False)],
    "SerializedTensor": [("name", 1, "string", False), ("full_name", 2, "string", False),
                         ("checkpoint_key", 3, "string", False)],
    "TrackableObject": [("children", 1, "ObjectReference", True),
                        ("attributes", 2, "SerializedTensor", True)],
    "TrackableObjectGraph": [("nodes", 1, "TrackableObject", True)],
    # tf_keras/protobuf/saved_metadata.proto
    "KerasSavedObject": [("node_id", 2, "int32", False), ("node_path", 3, "string", False),
                         ("identifier", 4, "string", False), ("metadata", 5, "string", False)],
    "SavedMetadata": [("nodes", 1, "KerasSavedObject", True)],
    # saved_model.proto: what tells a Keras model saved without keras_metadata.pb, and the
    # Keras metadata TF 2.0-2.4 kept in each object instead
    "SavedUserObject": [("identifier", 1, "string", False), ("metadata", 3, "string", False)],
    "SavedObject": [("children", 1, "ObjectReference", True),
                    ("user_object", 4, "SavedUserObject", False)],
    "SavedObjectGraph": [("nodes", 1, "SavedObject", True)],
    "MetaGraphDef": [("object_graph_def", 7, "SavedObjectGraph", False)],
    "SavedModel": [("meta_graphs", 2, "MetaGraphDef", True)],
}


def _protobuf() -> Any:
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError as exc:
        raise MissingExtraError(
            "reading TensorFlow SavedModels and TF-format checkpoints needs the protobuf "
            'package: pip install "kerasport[savedmodel]"') from exc
    return descriptor_pb2, descriptor_pool, message_factory


@functools.lru_cache(maxsize=1)
def _classes() -> dict[str, type]:
    descriptor_pb2, descriptor_pool, message_factory = _protobuf()
    fd = descriptor_pb2.FileDescriptorProto(name="kerasport_tf.proto", package=PACKAGE,
                                            syntax="proto3")
    fdp = descriptor_pb2.FieldDescriptorProto
    for name, fields in MESSAGES.items():
        msg = fd.message_type.add(name=name)
        for field, number, kind, repeated in fields:
            f = msg.field.add(name=field, number=number,
                              label=fdp.LABEL_REPEATED if repeated else fdp.LABEL_OPTIONAL)
            if kind in MESSAGES:
                f.type, f.type_name = fdp.TYPE_MESSAGE, f".{PACKAGE}.{kind}"
            else:
                f.type = getattr(fdp, f"TYPE_{kind.upper()}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    get = getattr(message_factory, "GetMessageClass", None)
    out = {}
    for name in MESSAGES:
        desc = pool.FindMessageTypeByName(f"{PACKAGE}.{name}")
        out[name] = get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc)
    return out


def parse(message: str, data: bytes) -> Any:
    """``data`` parsed as ``message`` (one of :data:`MESSAGES`); raises ValueError if it is not
    a valid encoding (protobuf's DecodeError is a subclass of Exception only, so it is turned
    into ValueError here)."""
    cls = _classes()[message]
    msg = cls()
    try:
        msg.ParseFromString(bytes(data))
    except Exception as exc:  # google.protobuf.message.DecodeError and its kin
        if isinstance(exc, MissingExtraError):
            raise
        raise ValueError(f"not a valid {message} ({type(exc).__name__}: {exc})") from exc
    return msg
