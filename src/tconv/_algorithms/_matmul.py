"""``matmul(a, b, out)``: the matrix products of every algorithm, through NumPy's BLAS.

Every algorithm's heavy lifting is a matrix product (``cols = w.T @ x`` in ``gemm``, one per
phase in ``phase``, ``grad_w = gy @ im2col(x).T`` in the weight gradient); NumPy hands them
to its BLAS, whose kernels match the processor (OpenBLAS picks them at load time).
``implicit_applies`` and ``Im2col`` name an implicit im2col operand, which NumPy's product
does not take: the callers then copy the windows (``implicit_applies`` is False).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Im2col", "implicit_applies", "matmul"]


class Im2col:
    """The matrix ``B[p, j] = flat[rows[p] + cols[j]]`` (int64 offsets into ``flat``)."""

    __slots__ = ("flat", "rows", "cols")

    ndim = 2

    def __init__(self, flat: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
        self.flat, self.rows, self.cols = flat, rows, cols

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows.size, self.cols.size)

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    def dense(self) -> np.ndarray:
        """The matrix itself."""
        return self.flat[self.rows[:, None] + self.cols[None, :]]


def implicit_applies(m: int, k: int, n: int, dtype: np.dtype, split: bool | None = None
                     ) -> bool:
    """Whether an ``(m, k) @ (k, n)`` product could take an :class:`Im2col` operand in
    place: never with NumPy's product."""
    return False


def matmul(a: np.ndarray | Im2col, b: np.ndarray | Im2col, out: np.ndarray | None = None
           ) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` (an :class:`Im2col` operand made dense first)."""
    return np.matmul(a.dense() if isinstance(a, Im2col) else a,
                     b.dense() if isinstance(b, Im2col) else b, out=out)
