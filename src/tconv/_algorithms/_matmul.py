"""``matmul(a, b, out)``: NumPy's matrix product, or tconv's compiled one where it is faster.

Every algorithm's heavy lifting is a matrix product (``cols = w.T @ x`` in ``gemm``, one per
phase in ``phase``, ``grad_w = gy @ im2col(x).T`` in the weight gradient). NumPy hands them
to its BLAS. When that BLAS runs older vector kernels than the processor has -- OpenBLAS
held to its AVX2 ("Haswell") kernels on an AVX-512 machine, as ``OPENBLAS_CORETYPE=Haswell``
does on the machine the benchmarks were run on -- the float32 products go to the numba
kernel ``sgemm`` instead (:mod:`tconv._algorithms._native_kernels`, AVX-512 fused
multiply-adds on 12 x 32 register blocks), split over the thread pool.

``TCONV_GEMM`` overrides the choice: ``blas`` (always NumPy), ``native`` (the compiled
product wherever it applies: float32, 2-D or batched, numba installed), ``auto`` (default).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

import numpy as np

from . import _native, _parallel

__all__ = ["matmul", "native_preferred"]

#: products of fewer multiply-adds stay with BLAS (the packing and the thread start-up
#: are fixed costs of the compiled product)
NATIVE_MIN_MACS = 1 << 21
#: ... and so do products with fewer rows or columns than NATIVE_MIN_SIDE, or fewer terms
#: than NATIVE_MIN_TERMS: the compiled product copies the larger operand into panels, a
#: load and a store a number, which only as many rows (columns) as this pay for. Measured
#: on N = 8192 against AVX2 OpenBLAS, each in its own process: M = 256 1.3-1.9x as fast,
#: M <= 128 from 0.4x to 1.5x (benchmarks/bench_matmul.py)
NATIVE_MIN_SIDE, NATIVE_MIN_TERMS = 128, 64

#: OpenBLAS kernel sets without AVX-512 (threadpoolctl's ``architecture``, lower case)
_BLAS_WITHOUT_AVX512 = frozenset({
    "haswell", "zen", "sandybridge", "nehalem", "penryn", "core2", "atom", "bulldozer",
    "piledriver", "steamroller", "excavator", "barcelona", "prescott", "katmai",
    "coppermine", "northwood", "opteron", "opteron_sse3", "dunnington", "sse_generic",
    "generic"})


@functools.lru_cache(maxsize=1)
def _host_avx512() -> bool:
    try:
        import llvmlite.binding as llvm
    except ImportError:  # pragma: no cover - numba depends on llvmlite
        return False
    return bool(llvm.get_host_cpu_features().get("avx512f", False))


@functools.lru_cache(maxsize=1)
def _blas_without_avx512() -> bool:
    """Every BLAS NumPy may call is an OpenBLAS running kernels without AVX-512."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return False
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return bool(blas) and all(
        lib.get("internal_api") == "openblas"
        and str(lib.get("architecture", "")).lower() in _BLAS_WITHOUT_AVX512 for lib in blas)


def native_preferred() -> bool:
    """The compiled product is used for large float32 products (see the module docstring)."""
    mode = os.environ.get("TCONV_GEMM", "auto").strip().lower()
    if mode == "blas" or not _native.available():
        return False
    if mode == "native":
        return True
    return _host_avx512() and _blas_without_avx512()


def _sgemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, kc: int = 0, mc: int = 0,
           nc: int = 0) -> None:
    """``c = a @ b`` (2-D) on this thread, through the compiled kernel (blocking: the
    module's ``GEMM_*`` unless given)."""
    from . import _native_kernels as k

    kc, mc, nc = kc or k.GEMM_KC, mc or k.GEMM_MC, nc or k.GEMM_NC
    _native.kernels()["sgemm"](a, b, c, False,
                               _parallel.scratch("gemm_a", mc * kc + 16, np.float32),
                               _parallel.scratch("gemm_b", nc * kc + 16, np.float32),
                               _parallel.scratch("gemm_tile", k.GEMM_MR * k.GEMM_NR, np.float32),
                               kc, mc, nc)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _applies(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> bool:
    if not (a.dtype == b.dtype == np.float32 and a.ndim >= 2 and b.ndim >= 2):
        return False
    if out is not None and (out.dtype != np.float32 or np.may_share_memory(out, a)
                            or np.may_share_memory(out, b)):
        return False
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if (k != k2 or m * n * k < NATIVE_MIN_MACS or min(m, n) < NATIVE_MIN_SIDE
            or k < NATIVE_MIN_TERMS):
        return False
    if a.ndim > 3 or b.ndim > 3:
        return False
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]:
        return False
    return native_preferred()


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` for 2-D operands or one batch dimension (``out``: a
    fresh array when None); through the compiled product where :func:`native_preferred`
    and the product is float32 and large, else through NumPy."""
    if not _applies(a, b, out):
        return np.matmul(a, b, out=out)
    m, n = a.shape[-2], b.shape[-1]
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    shape = (batch, m, n) if max(a.ndim, b.ndim) == 3 else (m, n)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape:
        return np.matmul(a, b, out=out)
    res = out if out.strides[-1] == 4 else np.empty(shape, dtype=np.float32)
    a3 = a if a.ndim == 3 else a[None]
    b3 = b if b.ndim == 3 else b[None]
    r3 = res if res.ndim == 3 else res[None]

    # parts: (batch index, row range, column range); split for the pool when called from
    # outside it, so both cores share one large product
    parts: list[tuple[int, int, int, int, int]] = []
    threads = 1 if threading.current_thread().name.startswith("tconv") \
        else _parallel.num_threads()
    if batch >= threads or threads == 1:
        parts = [(i, 0, m, 0, n) for i in range(batch)]
    else:
        from ._native_kernels import GEMM_MR, GEMM_NR

        for i in range(batch):
            if m >= n:
                step = _round_up(_round_up(m, threads) // threads, GEMM_MR)
                parts += [(i, r, min(m, r + step), 0, n) for r in range(0, m, step)]
            else:
                step = _round_up(_round_up(n, threads) // threads, GEMM_NR)
                parts += [(i, 0, m, c, min(n, c + step)) for c in range(0, n, step)]

    def run(part: tuple[int, int, int, int, int]) -> None:
        i, r0, r1, c0, c1 = part
        _sgemm(a3[i if a3.shape[0] > 1 else 0, r0:r1],
               b3[i if b3.shape[0] > 1 else 0, :, c0:c1], r3[i, r0:r1, c0:c1])

    _parallel.for_each(run, parts, limit_blas=False)
    if res is not out:
        out[...] = res
    return out


def _info() -> dict[str, Any]:
    """What decided :func:`native_preferred` (for the benchmarks' headers)."""
    return {"TCONV_GEMM": os.environ.get("TCONV_GEMM", "auto"),
            "numba": _native.available(),
            "host_avx512": _host_avx512() if _native.available() else None,
            "blas_without_avx512": _blas_without_avx512(),
            "native_preferred": native_preferred()}
