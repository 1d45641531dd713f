"""Accumulating matrix products on strided views: SciPy's BLAS ``?gemm`` called directly.

``np.matmul`` cannot accumulate (``C += A @ B`` costs an extra pass over ``C``) and copies
operands whose rows are not contiguous. Fortran ``sgemm``/``dgemm`` take a leading dimension
per operand and ``beta``, so the phase algorithm can multiply *windows* of one padded input
(``X[:, off:off + L]`` of a row-major ``(C, L_total)`` array: no copy) and sum the taps of a
phase inside BLAS::

    C[rows, L] (+)= A[rows, k] @ X[k, off:off + L]     (row-major views)
    ==  C.T (+)= X.T @ A.T                              (the same memory, column-major)

The function pointers come from ``scipy.linalg.cython_blas`` (SciPy's public Cython BLAS
API, the same OpenBLAS that ``scipy.linalg`` uses); ctypes releases the GIL during the call.
"""

from __future__ import annotations

import ctypes

import numpy as np

__all__ = ["available", "gemm_rows"]

_INT_MAX = 2**31 - 1
_FUNCS: dict[np.dtype, object] = {}


def _load() -> None:
    try:
        from scipy.linalg import cython_blas
    except ImportError:  # pragma: no cover - scipy is a core dependency
        return
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    p = ctypes.POINTER
    for name, dtype, ctype in (("sgemm", np.float32, ctypes.c_float),
                               ("dgemm", np.float64, ctypes.c_double)):
        cap = cython_blas.__pyx_capi__.get(name)
        if cap is None:
            continue
        ptr = get_ptr(cap, get_name(cap))
        proto = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, p(ctypes.c_int),
                                 p(ctypes.c_int), p(ctypes.c_int), p(ctype), ctypes.c_void_p,
                                 p(ctypes.c_int), ctypes.c_void_p, p(ctypes.c_int), p(ctype),
                                 ctypes.c_void_p, p(ctypes.c_int))
        _FUNCS[np.dtype(dtype)] = (proto(ptr), ctype)


_load()


def available(dtype: np.dtype, *sizes: int) -> bool:
    """Whether :func:`gemm_rows` can run for ``dtype`` with every size/stride below 2**31."""
    return np.dtype(dtype) in _FUNCS and all(0 <= s <= _INT_MAX for s in sizes)


def gemm_rows(c: np.ndarray, c_off: int, ldc: int, a: np.ndarray, a_off: int, lda: int,
              b: np.ndarray, b_off: int, ldb: int, rows: int, cols: int, depth: int,
              accumulate: bool) -> None:
    """``C (+)= B @ A`` on row-major windows given by flat element offsets and row strides.

    ``C`` is ``(rows, cols)`` at ``c.flat[c_off]`` with row stride ``ldc``; ``B`` is
    ``(rows, depth)`` stored *transposed*, ``B[r, d] == b.flat[b_off + d*ldb + r]``; ``A`` is
    ``(depth, cols)`` at ``a.flat[a_off]`` with row stride ``lda``. All three are
    C-contiguous arrays of one float dtype; the caller keeps every window inside them.
    """
    if not available(c.dtype, ldc, lda, ldb, rows, cols, depth,
                     c.size, a.size, b.size):
        _gemm_rows_numpy(c, c_off, ldc, a, a_off, lda, b, b_off, ldb, rows, cols, depth,
                         accumulate)
        return
    fn, ctype = _FUNCS[c.dtype]  # type: ignore[misc]
    item = c.dtype.itemsize
    i = ctypes.c_int
    # column-major: C.T (cols x rows) = A.T (cols x depth, ld lda) @ Bt.T (depth x rows ...)
    # Bt is stored as (depth, rows) row-major == column-major (rows x depth), ld = ldb,
    # so op(B) = 'T' gives the (depth x rows) operand.
    fn(b"N", b"T", ctypes.byref(i(cols)), ctypes.byref(i(rows)), ctypes.byref(i(depth)),
       ctypes.byref(ctype(1.0)), a.ctypes.data + a_off * item, ctypes.byref(i(lda)),
       b.ctypes.data + b_off * item, ctypes.byref(i(ldb)),
       ctypes.byref(ctype(1.0 if accumulate else 0.0)), c.ctypes.data + c_off * item,
       ctypes.byref(i(ldc)))


def _window(arr: np.ndarray, off: int, shape: tuple[int, int], strides: tuple[int, int],
            ) -> np.ndarray:
    item = arr.dtype.itemsize
    flat = arr.reshape(-1)[off:]
    return np.lib.stride_tricks.as_strided(flat, shape, (strides[0] * item, strides[1] * item))


def _gemm_rows_numpy(c: np.ndarray, c_off: int, ldc: int, a: np.ndarray, a_off: int,
                     lda: int, b: np.ndarray, b_off: int, ldb: int, rows: int, cols: int,
                     depth: int, accumulate: bool) -> None:
    """The same product with ``np.matmul`` (no BLAS pointer, or sizes beyond 32-bit ints)."""
    cw = _window(c, c_off, (rows, cols), (ldc, 1))
    aw = _window(a, a_off, (depth, cols), (lda, 1))
    bw = _window(b, b_off, (rows, depth), (1, ldb))
    if accumulate:
        cw += bw @ aw
    else:
        np.matmul(bw, aw, out=cw)
