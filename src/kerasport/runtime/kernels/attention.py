"""Attention kernels: batched matrix products and a masked softmax."""

from __future__ import annotations
