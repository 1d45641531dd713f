"""``matmul(a, b, out)``: the matrix products of every algorithm, through NumPy's BLAS.

Every algorithm's heavy lifting is a matrix product (``cols = w.T @ x`` in ``gemm``, one per
phase in ``phase``, ``grad_w = gy @ im2col(x).T`` in the weight gradient); NumPy hands them
to its BLAS, whose kernels match the processor (OpenBLAS picks them at load time).

A product with a single inner term (``K == 1``: a 1x1 input's weight gradient, one input
channel) is an outer product, which BLAS runs as a general product several times slower
than a broadcast multiply writes it; it is computed as that multiply (the same numbers:
one term, no sum).
"""

from __future__ import annotations

import numpy as np

__all__ = ["matmul"]


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``, an outer product (``K == 1``) as a broadcast multiply."""
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1 and b.shape[-2] == 1:
        return _outer(a, b, out)
    return np.matmul(a, b, out=out)


def _outer(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a (..., M, 1) @ b (..., 1, N)``: one term an output, written by a multiply."""
    return np.multiply(a, b, out=out)
