"""Exporters from the IR to other targets."""
