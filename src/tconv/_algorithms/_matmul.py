"""``matmul(a, b, out)``: the matrix products of every algorithm, through NumPy's BLAS.

Every algorithm's heavy lifting is a matrix product (``cols = w.T @ x`` in ``gemm``, one per
phase in ``phase``, ``grad_w = gy @ im2col(x).T`` in the weight gradient); NumPy hands them
to its BLAS, whose kernels match the processor (OpenBLAS picks them at load time).

A product with a single inner term (``K == 1``: a 1x1 input's weight gradient, one input
channel) is an outer product, which BLAS runs as a general product several times slower
than a broadcast multiply writes it; it is computed as that multiply (the same numbers:
one term, no sum).

BLAS's own threads: OpenBLAS runs a product of at most :data:`BLAS_SINGLE_MACS`
multiply-adds (``M*N*K``) on the calling thread and wakes its threads for larger ones. Two
threads of tconv's pool issuing such products at once make OpenBLAS's threads contend for
the same cores: on a busy machine that took up to 300 times as long as the same products
cut in pieces BLAS keeps on the calling thread, while on a quiet one the whole products are
about twice as fast as the pieces (``benchmarks/blas_pieces.py`` measures both). So products
issued from tconv's pool threads are cut -- along the longer of ``M`` and ``N``, each output
still one dot product over the whole ``K`` -- and a product issued elsewhere is one call.
The cut is fixed by the shapes, so a result never depends on which thread ran a block; but
some BLAS kernels (OpenBLAS's AVX2 ones) round a piece's sums differently from the whole
product's, a few units in the last place apart.
A one-thread BLAS (``OPENBLAS_NUM_THREADS=1``: :func:`tconv._algorithms._parallel.blas_threads`)
has no threads to contend: its products are never cut (thin pieces of a long reduction run
far slower than the whole product).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _parallel

__all__ = ["matmul", "tall", "BLAS_SINGLE_MACS", "TALL_PRODUCTS"]

#: the largest product OpenBLAS runs on the calling thread (``_parallel.BLAS_SINGLE_MACS``)
BLAS_SINGLE_MACS = _parallel.BLAS_SINGLE_MACS


#: weight-gradient products ``a @ b.T`` (both operands rows of one long reduction) run as
#: ``b @ a.T`` where that output is the taller one (:func:`tall`); ``False`` keeps the
#: written orientation (for A/B checks: ``benchmarks/blas_orientation.py``)
TALL_PRODUCTS = True


def tall(m: int, n: int, k: int) -> bool:
    """Whether an ``m x n`` product ``a @ b.T`` over ``k`` terms, both operands C-contiguous
    rows of the reduction (a weight gradient: ``x @ im2col.T``), runs faster as ``b @ a.T``,
    the ``n x m`` product: OpenBLAS runs these products faster with the output's longer side
    as its rows (``benchmarks/blas_orientation.py`` measures both over seeded shapes). Not
    for one term (``k == 1``): an outer product is a broadcast multiply, fastest along long
    rows."""
    return TALL_PRODUCTS and n > m and k > 1


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``: an outer product (``K == 1``) as a broadcast multiply,
    a product BLAS would thread, issued from a pool thread, in single-thread pieces."""
    if a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b, out=out)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if k == 1 and b.shape[-2] == 1:
        return _outer(a, b, out)
    if (m * k * n > BLAS_SINGLE_MACS and k * min(m, n) <= BLAS_SINGLE_MACS
            and _parallel.in_worker() and _parallel.blas_threads() > 1):
        return _in_pieces(a, b, out)
    return np.matmul(a, b, out=out)


def _in_pieces(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a @ b`` as products of at most :data:`BLAS_SINGLE_MACS` multiply-adds, cut along the
    longer of ``M`` and ``N`` (every batch item of a batched product on its own).

    The equal pieces are one batched ``np.matmul`` over a strided view (a piece an item of
    a batch dim in front of the last two), plus one call for the shorter last piece: NumPy
    runs the pieces' BLAS calls in one loop without taking the GIL back in between. Issued
    one call a piece from Python, two pool threads hand the GIL back and forth at every
    piece (a few microseconds of BLAS each), and the products ran up to twice as long on
    two threads as on one (benchmarks/RESULTS.md, "Code changes checked"). Each piece is
    the same BLAS call either way: the same numbers."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if a.ndim == 2 and b.ndim == 2:
        batch: tuple[int, ...] = ()
        if out is None:
            out = np.empty((m, n), dtype=np.result_type(a, b))
    else:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        if out is None:
            out = np.empty((*batch, m, n), dtype=np.result_type(a, b))
        a = np.broadcast_to(a, (*batch, m, k))
        b = np.broadcast_to(b, (*batch, k, n))
    if n >= m:                                      # column pieces of b and out
        step = max(1, BLAS_SINGLE_MACS // (m * k))
        whole = n // step * step
        if whole:
            pieces = whole // step
            np.matmul(a[..., None, :, :], _pieces_view(b, pieces, step, -1),
                      out=_pieces_view(out, pieces, step, -1))
        if whole < n:
            np.matmul(a, b[..., whole:], out=out[..., whole:])
    else:                                           # row pieces of a and out
        step = max(1, BLAS_SINGLE_MACS // (n * k))
        whole = m // step * step
        if whole:
            pieces = whole // step
            np.matmul(_pieces_view(a, pieces, step, -2), b[..., None, :, :],
                      out=_pieces_view(out, pieces, step, -2))
        if whole < m:
            np.matmul(a[..., whole:, :], b, out=out[..., whole:, :])
    return out


def _pieces_view(x: np.ndarray, pieces: int, step: int, axis: int) -> np.ndarray:
    """``x (..., R, C)`` cut into ``pieces`` equal runs of ``step`` along ``axis`` (-1 or
    -2), as a view ``(..., pieces, R or step, step or C)``: the pieces a batch dim."""
    shape, strides = list(x.shape), list(x.strides)
    shape[axis] = step
    return as_strided(x, (*shape[:-2], pieces, *shape[-2:]),
                      (*strides[:-2], step * strides[axis], *strides[-2:]), writeable=True)


def _outer(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a (..., M, 1) @ b (..., 1, N)``: one term an output, written by a multiply."""
    return np.multiply(a, b, out=out)
