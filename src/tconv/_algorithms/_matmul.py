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

__all__ = ["Im2col", "Packed", "implicit_applies", "matmul", "native_preferred", "pack_each",
           "pack_left", "pack_right"]

#: products of fewer multiply-adds stay with BLAS (the packing and the thread start-up
#: are fixed costs of the compiled product)
NATIVE_MIN_MACS = 1 << 21
#: ... and so do products with fewer rows or columns than NATIVE_MIN_SIDE, or fewer terms
#: than NATIVE_MIN_TERMS: the compiled product copies the larger operand into panels, a
#: load and a store a number, which only as many rows (columns) as this pay for. Measured
#: with ``benchmarks/bench_matmul.py --products grid`` (N = 8192, against AVX2 OpenBLAS):
#: on one thread -- a block's product on the pool -- M >= 96 ran 0.53-0.88x NumPy's time
#: (M = 64 up to 1.12x, M = 48 up to 1.48x); split over both threads -- one product called
#: from outside the pool -- M = 96-128 took 0.98-1.36x and M = 256 0.84-1.03x (K >= 64).
NATIVE_MIN_SIDE, NATIVE_MIN_TERMS = 96, 32
NATIVE_MIN_SIDE_SPLIT, NATIVE_MIN_TERMS_SPLIT = 256, 64

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


_NONE = np.empty(0, np.float32)


class Packed:
    """A 2-D float32 operand copied once into the compiled product's panels, for many
    products: the weights of a layer, multiplied with block after block of its input. A
    product with a packed operand reads the panels instead of packing that operand again
    (a load and a store a number) -- once per call instead of once per block and thread.
    """

    __slots__ = ("array", "panels")

    def __init__(self, array: np.ndarray | Im2col, panels: np.ndarray) -> None:
        self.array, self.panels = array, panels

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    ndim = 2

    def rows(self, r0: int) -> np.ndarray:
        """The panels from row ``r0`` of a left operand (``r0`` a multiple of MR)."""
        from ._native_kernels import GEMM_MR

        return self.panels[(r0 // GEMM_MR) * GEMM_MR * self.array.shape[1]:]

    def cols(self, c0: int) -> np.ndarray:
        """The panels from column ``c0`` of a right operand (``c0`` a multiple of NR)."""
        from ._native_kernels import GEMM_NR

        return self.panels[(c0 // GEMM_NR) * GEMM_NR * self.array.shape[0]:]


def _panels(rows: int, depth: int, block: int, key: str) -> np.ndarray:
    # a 64-byte aligned buffer of this thread's scratch (kept between calls: a fresh
    # multi-MiB array costs a page fault per 4 KiB when first written)
    size = _round_up(rows, block) * depth
    buf = _parallel.scratch(key, size + 16, np.float32)
    start = ((64 - buf.ctypes.data % 64) % 64) // 4
    return buf[start:start + size]


def pack_left(a: np.ndarray, n: int, key: str = "") -> np.ndarray | Packed:
    """``a (M, K)`` packed for products ``a @ b`` with ``b (K, n)``, where those take the
    compiled path; else ``a`` itself. ``key`` tells apart operands packed together (the
    panels live in the calling thread's scratch until it packs again under that key)."""
    # packed operands serve blocks' products, each on one thread of the pool
    if a.ndim != 2 or not _applies(a, _Shape(a.shape[1], n, a.dtype), None, split=False):
        return a
    from ._native_kernels import GEMM_MR

    panels = _panels(a.shape[0], a.shape[1], GEMM_MR, f"gemm_left{key}")
    pack = _native.kernels()["pack_left"]
    depth = a.shape[1]
    _parallel.for_each(lambda r: pack(a[r[0]:r[1]], panels[r[0] * depth:r[2] * depth]),
                       _split(a.shape[0], GEMM_MR), limit_blas=False)
    return Packed(a, panels)


def pack_right(b: np.ndarray | Im2col, m: int, key: str = "") -> np.ndarray | Packed:
    """``b (K, N)`` packed for products ``a @ b`` with ``a (m, K)`` (see :func:`pack_left`).
    ``b`` may be implicit (:class:`Im2col`): a layout of an array packed without a copy of
    that layout first (a1's weights: 8 MiB less peak memory); returned dense where the
    compiled product would not run."""
    if b.ndim != 2 or not _applies(_Shape(m, b.shape[0], b.dtype), b, None, split=False):
        return b.dense() if isinstance(b, Im2col) else b
    from ._native_kernels import GEMM_NR

    panels = _panels(b.shape[1], b.shape[0], GEMM_NR, f"gemm_right{key}")
    depth = b.shape[0]
    if isinstance(b, Im2col):
        table = _native.kernels()["pack_right_table"]
        _parallel.for_each(lambda c: table(b.flat, b.rows, b.cols[c[0]:c[1]],
                                           panels[c[0] * depth:c[2] * depth]),
                           _split(b.shape[1], GEMM_NR), limit_blas=False)
        return Packed(b, panels)
    pack = _native.kernels()["pack_right"]
    _parallel.for_each(lambda c: pack(b[:, c[0]:c[1]], panels[c[0] * depth:c[2] * depth]),
                       _split(b.shape[1], GEMM_NR), limit_blas=False)
    return Packed(b, panels)


def _split(total: int, unit: int) -> list[tuple[int, int, int]]:
    """``[0, total)`` in one range ``(start, stop, stop rounded up to unit)`` per thread,
    each starting at a multiple of ``unit`` (packing is a copy as costly as a fifth of the
    product it serves: a1's weights 1.9 ms on one thread)."""
    step = _round_up(_round_up(total, _parallel.num_threads()) // _parallel.num_threads(),
                     unit)
    return [(r, min(total, r + step), min(_round_up(total, unit), r + step))
            for r in range(0, total, step)]


#: operands packed ahead per call at most (each in its own scratch buffer of the calling
#: thread, kept between calls)
PACK_MAX = 4


def pack_each(mats: list[np.ndarray], other: int, side: str) -> list[np.ndarray | Packed]:
    """:func:`pack_left` (``side="left"``) or :func:`pack_right` of each operand, for
    products whose other operand has ``other`` columns (rows); unpacked when there are
    more than ``PACK_MAX`` of them."""
    if len(mats) > PACK_MAX:
        return list(mats)
    pack = pack_left if side == "left" else pack_right
    return [pack(m, other, key=str(i)) for i, m in enumerate(mats)]


class _Shape:
    """The shape and dtype of an operand not at hand (for :func:`_applies`)."""

    ndim = 2

    def __init__(self, rows: int, cols: int, dtype: np.dtype) -> None:
        self.shape, self.dtype = (rows, cols), dtype


_NO_TABLE = np.empty(0, np.int64)


class Im2col:
    """The implicit right operand ``B[p, j] = flat[rows[p] + cols[j]]`` (``rows``, ``cols``:
    int64 offsets into the flat array). An im2col matrix is one: ``rows`` walks channels
    and kernel taps, ``cols`` images and output positions (or the other way round for a
    weight gradient). The compiled product gathers its panels straight from ``flat``: no
    im2col copy is written and read back."""

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
        """The matrix itself (for NumPy's product)."""
        return self.flat[self.rows[:, None] + self.cols[None, :]]


def _sgemm(a: np.ndarray | Packed, b: np.ndarray | Packed | Im2col, c: np.ndarray,
           kc: int = 0, mc: int = 0, nc: int = 0, r0: int = 0, c0: int = 0) -> None:
    """``c = a @ b`` (2-D) on this thread, through the compiled kernel (blocking: the
    module's ``GEMM_*`` unless given). Packed operands: ``c`` is the block from row ``r0``
    (column ``c0``) of the whole product, and ``a`` (``b``) gives its rows (columns)."""
    from . import _native_kernels as k

    kc, mc, nc = kc or k.GEMM_KC, mc or k.GEMM_MC, nc or k.GEMM_NC
    ap = a.rows(r0) if isinstance(a, Packed) else _NONE
    bp = b.cols(c0) if isinstance(b, Packed) else _NONE
    av = a.array[r0:r0 + c.shape[0]] if isinstance(a, Packed) else a
    flat, brow, bcol = _NONE, _NO_TABLE, _NO_TABLE
    if isinstance(b, Im2col):
        flat, brow, bcol = b.flat, b.rows, b.cols[c0:c0 + c.shape[1]]
        bv = _NONE.reshape(0, 0)
    else:
        bv = b if not isinstance(b, Packed) else b.array[:, c0:c0 + c.shape[1]] \
            if isinstance(b.array, np.ndarray) else \
            np.broadcast_to(np.float32(0), (b.shape[0], c.shape[1]))   # the shape only
    # no packing buffer for a packed operand (a1: 4 MiB a thread less peak memory)
    _native.kernels()["sgemm"](av, bv, c,
                               _parallel.scratch("gemm_a", 16 if ap.size else mc * kc + 16,
                                                 np.float32),
                               _parallel.scratch("gemm_b", 16 if bp.size else nc * kc + 16,
                                                 np.float32),
                               _parallel.scratch("gemm_tile", k.GEMM_MR * k.GEMM_NR, np.float32),
                               kc, mc, nc, ap, bp, flat, brow, bcol)


def implicit_applies(m: int, k: int, n: int, dtype: np.dtype, split: bool | None = None
                     ) -> bool:
    """The compiled product would take an ``(m, k) @ (k, n)`` product of ``dtype`` --
    called from here, or (``split=False``) as a block on one thread of the pool -- and can
    then be given an implicit operand (:class:`Im2col`) instead of a copied one."""
    return _applies(_Shape(m, k, dtype), _Shape(k, n, dtype), None, split)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _in_pool() -> bool:
    return threading.current_thread().name.startswith("tconv")


def _applies(a: Any, b: Any, out: np.ndarray | None, split: bool | None = None) -> bool:
    """The compiled product takes ``a @ b`` (arrays, :class:`Packed` or :class:`_Shape`);
    ``split``: the product will be split over the threads (default: when called from
    outside the pool), which asks for larger sizes."""
    if not (a.dtype == b.dtype == np.float32 and a.ndim >= 2 and b.ndim >= 2):
        return False
    if out is not None and (out.dtype != np.float32 or not out.flags.writeable or any(
            isinstance(v, np.ndarray) and np.may_share_memory(out, v) for v in (a, b))
            or isinstance(b, Im2col) and np.may_share_memory(out, b.flat)):
        return False
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if split is None:
        split = _parallel.num_threads() > 1 and not _in_pool()
    side, terms = ((NATIVE_MIN_SIDE_SPLIT, NATIVE_MIN_TERMS_SPLIT) if split
                   else (NATIVE_MIN_SIDE, NATIVE_MIN_TERMS))
    if k != k2 or m * n * k < NATIVE_MIN_MACS or min(m, n) < side or k < terms:
        return False
    if a.ndim > 3 or b.ndim > 3:
        return False
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]:
        return False
    return native_preferred()


def matmul(a: np.ndarray | Packed, b: np.ndarray | Packed | Im2col,
           out: np.ndarray | None = None
           ) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` for 2-D operands or one batch dimension (``out``: a
    fresh array when None); through the compiled product where :func:`native_preferred`
    and the product is float32 and large, else through NumPy. ``a`` / ``b`` may be
    :class:`Packed` (by :func:`pack_left` / :func:`pack_right`), ``b`` an implicit
    :class:`Im2col` (NumPy's product then gets the dense matrix)."""
    if not _applies(a, b, out):
        return np.matmul(_dense(a), _dense(b), out=out)
    m, n = a.shape[-2], b.shape[-1]
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    shape = (batch, m, n) if max(a.ndim, b.ndim) == 3 else (m, n)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape:
        return np.matmul(_dense(a), _dense(b), out=out)
    res = out if out.strides[-1] == 4 else np.empty(shape, dtype=np.float32)
    r3 = res if res.ndim == 3 else res[None]

    # parts: (batch index, row range, column range); split for the pool when called from
    # outside it, so both cores share one large product
    parts: list[tuple[int, int, int, int, int]] = []
    threads = 1 if _in_pool() else _parallel.num_threads()
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
        left = a if isinstance(a, Packed) else (a[i] if a.ndim == 3 else a)[r0:r1]
        right = b if isinstance(b, (Packed, Im2col)) else \
            (b[i] if b.ndim == 3 else b)[:, c0:c1]
        _sgemm(left, right, r3[i, r0:r1, c0:c1], r0=r0, c0=c0)

    _parallel.for_each(run, parts, limit_blas=False)
    if res is not out:
        out[...] = res
    return out


def _dense(v: np.ndarray | Packed | Im2col) -> np.ndarray:
    if isinstance(v, Packed):
        return _dense(v.array)
    return v.dense() if isinstance(v, Im2col) else v


def _info() -> dict[str, Any]:
    """What decided :func:`native_preferred` (for the benchmarks' headers)."""
    return {"TCONV_GEMM": os.environ.get("TCONV_GEMM", "auto"),
            "numba": _native.available(),
            "host_avx512": _host_avx512() if _native.available() else None,
            "blas_without_avx512": _blas_without_avx512(),
            "native_preferred": native_preferred()}
