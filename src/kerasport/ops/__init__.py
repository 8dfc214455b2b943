"""The IR's ops, one module per family; each op defined once (see ``registry``)."""

from kerasport.ops.registry import FAMILIES, UNARY, OpDef, Traits, all_ops, get_op, op

__all__ = ["UNARY", "FAMILIES", "OpDef", "Traits", "all_ops", "get_op", "op"]
