"""kerasport's intermediate representation: a graph of primitive ops on named values."""

from kerasport.ir.graph import Graph, Node, Value

__all__ = ["Graph", "Node", "Value"]
