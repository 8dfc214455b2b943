"""The NumPy runtime: kernels and the executor."""
