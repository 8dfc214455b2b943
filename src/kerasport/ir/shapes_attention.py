"""Shape rules of the attention ops (see kerasport.ir.shapes for the conventions)."""

from __future__ import annotations
