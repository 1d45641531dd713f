"""``interpolate``: PyTorch-exact nearest / linear / cubic / area resampling in NumPy.

Every mode is *separable*: resampling an ``(N, C, *S)`` array is one 1-D resampling per
spatial axis, and a 1-D resampling is a linear map ``y = R @ x`` whose row ``i`` holds the
weights of output ``i``. Each row has at most ``K`` non-zeros (nearest 1, linear 2,
cubic 4, area ``ceil(in/out)+1``, anti-aliased ``~2*half_width*in/out``), so ``R`` is
stored as two ``(out, K)`` tables, source index and weight, and applied with ``K``
gathers::

    y[..., i, ...] = sum_k  w[i, k] * x[..., idx[i, k], ...]          (generic path)

The tables follow PyTorch's ATen kernels (``UpSample.h``) step by step::

    scale = (in - 1) / (out - 1)           align_corners=True
          = 1 / scale_factor               scale_factor given, not recomputed
          = in / out                       otherwise
    src   = scale * i                      align_corners=True
          = scale * (i + 0.5) - 0.5        otherwise (clamped at 0 except for cubic)

Large inputs apply a table as one small dense GEMM per block of 32 outputs (the block's
window of inputs times its slice of ``R``). For an integer factor ``s`` with
``align_corners=False`` the table is periodic: output
``s*j + r`` reads inputs ``j + o`` (``o`` in ``[-P, P]``) with weights that depend on the
phase ``r`` only, and clamping indices is padding by edge replication. So ``R`` is a
banded block-Toeplitz matrix; cut the input into blocks of ``b`` samples and each block of
``s*b`` outputs is one small fixed matrix ``B`` of shape ``(s*b, b + 2P)`` times the
block's ``b + 2P`` padded inputs -- one batched matrix product per axis (fast path)::

    x_pad = edge_pad(x, P)                         (..., n + 2P, ...)
    y[..., s*b*m : s*b*(m+1), ...] = B @ x_pad[..., b*m : b*m + b + 2P, ...]

Linear phases have two taps, ``y[s*j + r] = w0_r * x[j + f_r] + w1_r * x[j + f_r + 1]``,
too few for a matrix product to pay: large 2-D planes form each product ``w * x`` once per
distinct weight and add shifted slices of them, columns then rows, in bands of rows that
stay in cache. Nearest with an integer factor (index ``i // s``) is a block copy.

With numba, 2-D linear and cubic modes at the other factors (and at whole factors on
small planes), and anti-aliased modes and area on planes of at least 1024 values, apply
the two tables in one compiled loop per band of output rows: the band's input rows along
the last axis, then the rows, in ATen's order and without fused multiply-adds (linear
tables whose input rows few output rows share: each output from its four inputs). The other
axes each take the cheapest exact pass for their table (:func:`_axis_pass`): strided
slices and broadcast copies for nearest, strided adds for area over whole windows, one
dense product for short axes, block GEMMs, or gathers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _checks
from ._algorithms import _native, _parallel
from ._algorithms._matmul import BLAS_SINGLE_MACS
from ._typing import Array, ArrayLike

__all__ = ["MODES", "interpolate", "resample_matrix"]

#: The ``mode=`` values of :func:`interpolate`.
MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
#: Modes that exist for one number of spatial dims only (as in PyTorch).
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
#: Keys's cubic convolution parameter used by PyTorch (and OpenCV) bicubic.
CUBIC_A = -0.75
#: Input samples per block of the fast path's batched matrix product.
_BLOCK = 8
#: Outputs per block of the last-axis pass.
_LAST_OUT = 32
#: Input rows per band of the fused 2-D path (each band is one task on the thread pool).
_BAND_ROWS = 64
#: Smallest plane (H*W) for the fused 2-D path; smaller planes go axis by axis.
_FUSED_MIN = 1 << 17
#: Values per band of the two-tap linear 2-D path's intermediate (rows after the column
#: pass, all planes): with its two product buffers it stays in a core's L2.
_LINEAR_BAND = 1 << 18
#: Output values per band of the nearest integer-factor 2-D path.
_REPEAT_BAND = 1 << 17


# ----------------------------------------------------------------------------------------
# Per-axis tables: PyTorch's index and weight arithmetic, one axis at a time
# ----------------------------------------------------------------------------------------

def cubic_near(d: Any, a: Any = CUBIC_A) -> Any:
    """Keys' cubic convolution kernel for ``0 <= d <= 1``: ``((a + 2)d - (a + 3)) d^2 + 1``."""
    return ((a + 2) * d - (a + 3)) * d * d + 1


def cubic_far(d: Any, a: Any = CUBIC_A) -> Any:
    """Keys' cubic convolution kernel for ``1 <= d < 2``: ``((a d - 5a) d + 8a) d - 4a``."""
    return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a


def keys_cubic(d: Any, a: Any = CUBIC_A) -> Any:
    """Keys' cubic convolution kernel ``W(d)`` at a scalar distance ``d`` (the home of this
    kernel, with :func:`cubic_near` and :func:`cubic_far`; ``a = -0.75`` is PyTorch's and
    OpenCV's, ``-0.5`` Keys' own). Exact on ``fractions.Fraction`` (:mod:`tconv.kernels`)::

        W(d) = ((a + 2)|d| - (a + 3)) d^2 + 1          for |d| <= 1
        W(d) = ((a|d| - 5a)|d| + 8a)|d| - 4a            for 1 < |d| < 2, else 0
    """
    d = abs(d)
    if d <= 1:
        return cubic_near(d, a)
    return cubic_far(d, a) if d < 2 else 0 * d


def _cubic_weights(t: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
    """Keys cubic convolution weights of taps at offsets -1, 0, 1, 2 from ``floor(src)``.

    ``t`` is the fractional position in ``[0, 1]``; ATen's ``get_cubic_upsample_coefficients``
    (the branch of each tap fixed, as ATen's, so the weights match it to the last bit).
    """
    return np.stack([cubic_far(t + 1, a), cubic_near(t, a), cubic_near(1 - t, a),
                     cubic_far(2 - t, a)], axis=-1)


def _scale(n_in: int, n_out: int, align_corners: bool, scale_factor: float | None,
           dtype: type) -> np.floating:
    """ATen ``area_pixel_compute_scale`` (``compute_scales_value`` without align_corners)."""
    if align_corners:
        return dtype(n_in - 1) / dtype(n_out - 1) if n_out > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(n_in) / dtype(n_out)


@_parallel.cached(64)
def _axis_table(n_in: int, n_out: int, mode: str, align_corners: bool,
                scale_factor: float | None, opmath: type = np.float64,
                nearest_2d: bool = False, cubic_a: float = CUBIC_A
                ) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights, both ``(n_out, K)``, of one axis (index -1: no tap).

    Positions and weights are computed in ``opmath`` (float32 for float32 data, as ATen
    does), so that rounding of the source position matches PyTorch's. ``nearest_2d``
    selects ATen's 2-D nearest kernel, which (unlike the 1-D and 3-D ones) ignores the
    scale when ``n_out`` is ``n_in`` or ``2 * n_in``. Cached (read-only arrays): a model
    resizes the same shapes call after call.
    """
    i = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        # ATen computes nearest indices in float32 whatever the data dtype.
        scale = _scale(n_in, n_out, False, scale_factor, np.float32)
        if mode == "nearest":
            if nearest_2d and n_out == n_in:
                idx = i
            elif nearest_2d and n_out == 2 * n_in:
                idx = i >> 1
            else:
                idx = np.floor(i.astype(np.float32) * scale)       # floorf(i * scale)
        else:  # floorf((i + 0.5) * scale): the product in double, rounded to float
            idx = np.floor(((i + 0.5) * np.float64(scale)).astype(np.float32))
        idx = np.minimum(idx.astype(np.intp), n_in - 1)
        return idx[:, None], np.ones((n_out, 1), opmath)
    if mode == "area":                              # adaptive average pooling windows
        start = (i * n_in) // n_out
        stop = ((i + 1) * n_in + n_out - 1) // n_out
        length = stop - start
        k = np.arange(int(length.max()))
        valid = k < length[:, None]
        idx = np.where(valid, start[:, None] + k, -1)           # -1: padding, never read
        return idx, (valid / length[:, None]).astype(opmath)
    if mode in ("linear-aa", "bicubic-aa"):
        if n_out == n_in:                           # ATen skips the axis: a plain copy
            return i[:, None], np.ones((n_out, 1), opmath)
        return _aa_table(n_in, n_out, mode == "bicubic-aa", align_corners, scale_factor,
                         opmath)
    cubic = mode == "bicubic"
    if not cubic and n_out == n_in:
        # ATen "copies" as x[i]*1 + x[i]*0: finite values unchanged, inf becomes nan
        return np.stack([i, i], axis=1), np.stack(
            [np.ones(n_out, opmath), np.zeros(n_out, opmath)], axis=1)
    scale = _scale(n_in, n_out, align_corners, scale_factor, opmath)
    if align_corners:
        src = scale * i.astype(opmath)
    else:
        # scale * (i + 0.5) - 0.5, rounded once: ATen's vectorised CPU build fuses it into
        # an FMA; for float32 the double-precision product is exact, so this reproduces it
        src = (np.float64(scale) * (i + 0.5) - 0.5).astype(opmath)
    if not cubic:
        src = np.maximum(src, opmath(0))
    # ATen floors with floorf whatever the dtype: a float64 position just below an integer
    # rounds up to it in float32 (weight 0 on the lower sample, as torch)
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.intp), n_in - 1)
    t = np.clip(src - i0.astype(opmath), opmath(0), opmath(1))
    if cubic:
        idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)
        return idx, _cubic_weights(t, cubic_a)
    i1 = i0 + (i0 < n_in - 1)
    return np.stack([i0, i1], axis=1), np.stack([opmath(1) - t, t], axis=1)


def _aa_table(n_in: int, n_out: int, cubic: bool, align_corners: bool,
              scale_factor: float | None, opmath: type) -> tuple[np.ndarray, np.ndarray]:
    """ATen's ``antialias=True`` weights (Pillow's ``precompute_coeffs``).

    The filter (triangle, or Keys' cubic with ``a = -0.5``) is stretched by ``scale`` when
    down-sampling, cut to the input, and renormalised to sum 1.
    """
    scale = _scale(n_in, n_out, align_corners, scale_factor, opmath)
    half = 2.0 if cubic else 1.0                    # interp_size / 2
    support = opmath(half * scale) if scale >= 1 else opmath(half)
    width = int(math.ceil(support)) * 2 + 1
    invscale = opmath(1.0 / scale) if scale >= 1 else opmath(1)
    center: np.ndarray = (np.float64(scale) * (np.arange(n_out) + 0.5)).astype(opmath)
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xsize = np.clip(np.minimum((center + support + 0.5).astype(np.int64), n_in) - xmin,
                    0, width)
    j = np.arange(width)
    pos = (xmin[:, None] + j).astype(opmath) - center[:, None]
    d = np.abs(((pos + 0.5) * np.float64(invscale)).astype(opmath))
    if cubic:
        a = opmath(-0.5)
        w = np.where(d < 1, cubic_near(d, a), np.where(d < 2, cubic_far(d, a), opmath(0)))
    else:
        w = np.maximum(opmath(1) - d, opmath(0))
    valid = j < xsize[:, None]
    w = np.where(valid, w, opmath(0)).astype(opmath)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w).astype(opmath)
    return np.where(valid, xmin[:, None] + j, -1), w


def resample_matrix(n_in: int, n_out: int, mode: str = "linear",
                    align_corners: bool | None = None,
                    scale_factor: float | None = None, antialias: bool = False) -> np.ndarray:
    """The dense ``(n_out, n_in)`` matrix of one axis of :func:`interpolate`.

    Resampling along one axis is linear, ``y = R @ x``; this returns ``R`` (float64), the
    object to compare with a transposed convolution's matrix. ``mode`` may be any 1-D
    reading of :data:`MODES` ("bilinear" and "trilinear" mean "linear" here).

    Args:
        n_in: input length.
        n_out: output length.
        mode: one of :data:`MODES`.
        align_corners: as in :func:`interpolate` (linear and cubic modes only).
        scale_factor: the factor PyTorch was given, if any: it sets the sampling step
            ``1/scale_factor`` in place of ``n_in/n_out`` (for ``"nearest"``, as in the
            1-D and 3-D kernels; see :func:`interpolate` for the 2-D special cases).
        antialias: the anti-aliased filter of :func:`interpolate` (linear/cubic modes).

    Returns:
        ``R`` with ``interpolate(x[None, None], n_out, mode=...)[0, 0] == R @ x``.

    Shape:
        ``(n_out, n_in)``; every row sums to 1.

    Raises:
        ValueError: for a non-positive length, an unknown mode, or ``antialias`` with a
            nearest or area mode.

    Examples:
        >>> resample_matrix(2, 4)                       # linear, align_corners=False
        array([[1.  , 0.  ],
               [0.75, 0.25],
               [0.25, 0.75],
               [0.  , 1.  ]])
        >>> resample_matrix(4, 2, "area")
        array([[0.5, 0.5, 0. , 0. ],
               [0. , 0. , 0.5, 0.5]])
    """
    fn = "resample_matrix"
    mode = _check_mode(fn, mode)
    for name, v in (("n_in", n_in), ("n_out", n_out)):
        _checks.as_int_tuple(fn, name, v, 1, minimum=1)
    ac = _check_align_corners(fn, mode, align_corners)
    _checks.check_elements(fn, "a matrix", (n_out, n_in), {"n_in": n_in, "n_out": n_out})
    one_d = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
    if antialias:
        if one_d not in ("linear", "bicubic"):
            raise ValueError(f"{fn}: antialias=True needs a linear or cubic mode, got "
                             f"mode={mode!r}")
        one_d += "-aa"
    idx, w = _axis_table(int(n_in), int(n_out), one_d, ac, scale_factor)
    R = np.zeros((int(n_out), int(n_in)))
    rows = np.broadcast_to(np.arange(int(n_out))[:, None], idx.shape)
    np.add.at(R, (rows[idx >= 0], idx[idx >= 0]), w[idx >= 0])
    return R


# ----------------------------------------------------------------------------------------
# Fast path: integer factors, align_corners=False -> one batched matmul per axis
# ----------------------------------------------------------------------------------------

def _phase_taps(s: int, cubic: bool, dtype: np.dtype,
                ) -> tuple[int, list[list[tuple[int, float]]]]:
    """Halo ``P`` and, per phase ``r`` in ``[0, s)``, the ``(offset, weight)`` taps.

    Output ``s*j + r`` sits at source position ``j + d`` with ``d = (r + 0.5)/s - 0.5``;
    it reads ``x[j + floor(d) + o]`` for ``o`` in (0, 1) (linear) or (-1, 0, 1, 2) (cubic).
    Weights are evaluated in ``dtype`` like the generic tables.
    """
    phases = []
    for r in range(s):
        d = (r + 0.5) / s - 0.5
        f = math.floor(d)
        t = np.asarray(d - f, dtype)
        if cubic:
            phases.append([(f - 1 + k, float(w)) for k, w in enumerate(_cubic_weights(t))])
        else:
            phases.append([(f, float(1 - t)), (f + 1, float(t))])
    return (2 if cubic else 1), phases


@_parallel.cached(64)
def _band(s: int, cubic: bool, b: int, dtype: np.dtype) -> np.ndarray:
    """``B`` of shape ``(s*b, b + 2P)``: ``b`` padded-input samples -> ``s*b`` outputs
    (remembered, read-only: built by Python loops, and every call of a layer needs it)."""
    P, phases = _phase_taps(s, cubic, dtype)
    B = np.zeros((s * b, b + 2 * P), dtype)
    for j in range(b):
        for r, taps in enumerate(phases):
            for off, w in taps:
                B[s * j + r, P + j + off] = w
    return B


def _band_matrices(s: int, cubic: bool, n: int, dtype: np.dtype,
                   ) -> tuple[int, np.ndarray, np.ndarray | None]:
    """Block size ``b`` for a length-``n`` axis, ``B`` for full blocks, ``B`` for the tail."""
    b = min(_BLOCK, n)
    tail = n % b
    return b, _band(s, cubic, b, dtype), (_band(s, cubic, tail, dtype) if tail else None)


def _fast_axis(src: np.ndarray, out: np.ndarray, s: int, cubic: bool) -> None:
    """One fixed-phase pass: ``src`` ``(outer, n + 2P, inner)`` edge-padded -> ``out``.

    ``out`` is ``(outer, s*n, inner)``; both may be strided views. Blocks of ``b`` inputs
    overlap by ``2P`` and are read through a strided view, never copied::

        inner == 1:  (nb, outer, b+2P) @ B.T (b+2P, s*b)   -> (nb, outer, s*b)
        inner > 1:   B (s*b, b+2P) @ (outer, nb, b+2P, inner) -> (outer, nb, s*b, inner)

    Each product is kept under OpenBLAS's multi-threading threshold by the callers'
    chunking, so it runs on the calling thread (see ``_run``).
    """
    P = 2 if cubic else 1
    outer, n_pad, inner = src.shape
    n = n_pad - 2 * P
    b, B, Bt = _band_matrices(s, cubic, n, src.dtype)
    nb = n // b
    s0, s1, s2 = src.strides
    o0, o1, o2 = out.strides
    if inner == 1:
        view = as_strided(src, (nb, outer, b + 2 * P), (b * s1, s0, s1))
        dst = as_strided(out, (nb, outer, s * b), (s * b * o1, o0, o1))
        np.matmul(view, B.T, out=dst)
        if Bt is not None:
            np.matmul(src[:, nb * b:, 0], Bt.T, out=out[:, s * nb * b:, 0])
        return
    view = as_strided(src, (outer, nb, b + 2 * P, inner), (s0, b * s1, s1, s2))
    dst = as_strided(out, (outer, nb, s * b, inner), (o0, s * b * o1, o1, o2))
    np.matmul(B, view, out=dst)
    if Bt is not None:
        np.matmul(Bt, src[:, nb * b:], out=out[:, s * nb * b:])


def _last_axis_pass(t: np.ndarray, out: np.ndarray, s: int, cubic: bool) -> None:
    """Fixed-phase pass along the last axis: ``t`` ``(rows, n)`` -> ``out`` ``(rows, s*n)``.

    Both C-contiguous. The windows of ``b + 2P`` samples are copied out of ``t`` once
    (``1 + 2P/b`` times its size), so that one GEMM over all (row, block) pairs writes the
    output rows in order -- contiguous stores, no strided writes::

        A[row, m] = t[row, b*m - P : b*m + b + P]        (edge-replicated at the row ends)
        out.reshape(rows*nb, s*b) = A.reshape(rows*nb, b + 2P) @ B.T
    """
    P = 2 if cubic else 1
    rows, n = t.shape
    if n < 2 * P:                                   # tiny axis: gathered windows
        src = np.take(t, np.clip(np.arange(-P, n + P), 0, n - 1), axis=1)
        _fast_axis(src[:, :, None], out[:, :, None], s, cubic)
        return
    b = min(max(4, _LAST_OUT // s), n)              # s*b ~ _LAST_OUT outputs per block
    nb = n // b
    nm = nb * b
    it = t.itemsize
    A = np.empty((rows, nb, b + 2 * P), t.dtype)
    A[:, :, P:P + b] = as_strided(t, (rows, nb, b), (t.strides[0], b * it, it))
    if nb > 1:
        A[:, 1:, :P] = as_strided(t[:, b - P:], (rows, nb - 1, P), (t.strides[0], b * it, it))
        A[:, :-1, P + b:] = as_strided(t[:, b:], (rows, nb - 1, P), (t.strides[0], b * it, it))
    A[:, 0, :P] = t[:, :1]
    A[:, -1, P + b:] = t[:, np.minimum(nm + np.arange(P), n - 1)]
    B = _band(s, cubic, b, t.dtype).T               # (b + 2P, s*b)
    A2 = A.reshape(rows * nb, b + 2 * P)
    if nm == n:
        Y = out.reshape(rows * nb, s * b)
        for c in _chunks(rows * nb, _GEMM_SINGLE // B.size):
            np.matmul(A2[c], B, out=Y[c])
    else:
        ot = out.itemsize
        Y3 = as_strided(out, (rows, nb, s * b), (out.strides[0], s * b * ot, ot))
        for r in _chunks(rows, _GEMM_SINGLE // (B.size * nb)):
            np.matmul(A[r], B, out=Y3[r])
        src = np.take(t, np.clip(np.arange(nm - P, n + P), 0, n - 1), axis=1)
        np.matmul(src, _band(s, cubic, n - nm, t.dtype).T, out=out[:, s * nm:])


#: chunks of a product stay at or below OpenBLAS's one-thread size (``M*N*K``,
#: :data:`tconv._algorithms._matmul.BLAS_SINGLE_MACS`) and tconv spreads them over its own
#: threads: OpenBLAS's spinning workers are slow on a busy machine
_GEMM_SINGLE = BLAS_SINGLE_MACS


def _chunks(n: int, size: int) -> list[slice]:
    size = max(1, size)
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _threads(tasks: int) -> int:
    """Threads for ``tasks`` independent tasks: tconv's thread count
    (``tconv.set_num_threads``, ``TCONV_NUM_THREADS`` or the CPUs), at most ``tasks``."""
    return max(1, min(_parallel.num_threads(), tasks))


#: values of work (read and written) from which a call's tasks run on the thread pool
_PARALLEL_MIN = 1 << 20


def _run(tasks: Sequence[Callable[[], None]], work: int) -> None:
    """Run the ``tasks`` (callables); on tconv's shared thread pool from ``work`` >=
    :data:`_PARALLEL_MIN` values."""
    if _threads(len(tasks)) < 2 or work < _PARALLEL_MIN:
        for task in tasks:
            task()
        return
    _parallel.for_each(_call, tasks, min_items=2)


def _call(task: Callable[[], None]) -> None:
    task()


def _edge_pad(x: np.ndarray, axis: int, P: int) -> np.ndarray:
    """``x`` with its first and last slices along ``axis`` repeated ``P`` times
    (``np.pad(mode="edge")``, as one gather: ``np.pad`` costs far more on small arrays)."""
    n = x.shape[axis]
    return np.take(x, np.clip(np.arange(-P, n + P), 0, n - 1), axis=axis)


def _fast_axis_array(x: np.ndarray, axis: int, s: int, cubic: bool) -> np.ndarray:
    """Fixed-phase pass along ``axis`` of a whole array, in chunks under ``_GEMM_SINGLE``."""
    P = 2 if cubic else 1
    n = x.shape[axis]
    outer, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    shape = list(x.shape)
    shape[axis] = s * n
    y = np.empty(shape, x.dtype)
    if inner == 1:                                  # last axis: contiguous row bands
        x2, y2 = np.ascontiguousarray(x).reshape(outer, n), y.reshape(outer, s * n)
        tasks = [partial(_last_axis_pass, x2[r], y2[r], s, cubic)
                 for r in _chunks(outer, max(64, (1 << 16) // n))]
        _run(tasks, y.size)
        return y
    src = _edge_pad(x, axis, P).reshape(outer, n + 2 * P, inner)
    out = y.reshape(outer, s * n, inner)
    b = min(_BLOCK, n)
    per = (b + 2 * P) * s * b                       # M*K of each product
    rows = max(1, _GEMM_SINGLE // (per * inner))
    parts = [(r, c) for r in _chunks(outer, rows) for c in _chunks(inner, _GEMM_SINGLE // per)]
    tasks = [partial(_fast_axis, src[r, :, c], out[r, :, c], s, cubic) for r, c in parts]
    _run(tasks, y.size)
    return y


def _fast_2d(x: np.ndarray, s_h: int, s_w: int, cubic: bool) -> np.ndarray:
    """Both of the last two axes at once, in bands of rows that stay in cache.

    Per band of ``R`` input rows: the row pass writes ``s_h*R`` rows into a small buffer
    and the column pass (:func:`_last_axis_pass`) writes the final output rows from it.
    The intermediate image never exists in full.
    """
    P = 2 if cubic else 1
    lead, (H, W) = x.shape[:-2], x.shape[-2:]
    planes = x.reshape(-1, H, W)
    y = np.empty((*lead, s_h * H, s_w * W), x.dtype)
    yp = y.reshape(-1, s_h * H, s_w * W)
    R = _BAND_ROWS
    b = min(_BLOCK, H)
    cols = max(1, _GEMM_SINGLE // ((b + 2 * P) * s_h * b))

    def band(p: int, r0: int) -> None:
        rr = min(R, H - r0)
        if r0 >= P and r0 + rr + P <= H:            # input rows with their halo
            src = planes[p, r0 - P:r0 + rr + P]
        else:                                       # edge-replicated at the image border
            src = planes[p, np.clip(np.arange(r0 - P, r0 + rr + P), 0, H - 1)]
        t = np.empty((s_h * rr, W), x.dtype)
        for c in _chunks(W, cols):                  # row pass, column chunks
            _fast_axis(src[None, :, c], t[None, :, c], s_h, cubic)
        _last_axis_pass(t, yp[p, s_h * r0:s_h * (r0 + rr)], s_w, cubic)

    tasks = [partial(band, p, r0) for p in range(planes.shape[0]) for r0 in range(0, H, R)]
    _run(tasks, y.size)
    return y


def _linear_phases(s: int, dtype: np.dtype) -> list[tuple[int, np.floating, np.floating]]:
    """Per phase ``r``: ``(f, w0, w1)`` with output ``s*j + r = w0*x[j+f] + w1*x[j+f+1]``."""
    _, phases = _phase_taps(s, False, dtype)
    return [(taps[0][0], dtype.type(taps[0][1]), dtype.type(taps[1][1])) for taps in phases]


def _linear_2d(x: np.ndarray, s_h: int, s_w: int) -> np.ndarray:
    """Fixed-phase linear resampling of the last two axes with two taps per phase, no GEMM.

    Each phase ``r`` of an axis is ``y[s*j + r] = w0_r * x[j + f_r] + w1_r * x[j + f_r + 1]``
    (``f_r`` is -1 or 0); the products ``w * x`` are formed once per distinct weight and
    every phase is then one add. Per band of ``R`` input rows (plus one halo row each
    side, edge-replicated at the image border), all planes at once::

        x[:, band]  --columns-->  t (planes, R + 2, s_w*W)  --rows-->  y[:, s_h*band]

    columns first, then rows, as ATen's nested loops do. Outputs whose source position
    is clamped to 0 copy ``x[0]`` (ATen: ``1 * x[0] + 0 * x[1]``). The bands are split
    into one contiguous run per thread, each with its own buffers, which stay in L2; many
    planes are taken ``G`` at a time, so that bands keep at least 16 rows (each band's
    column pass also redoes its two halo rows).
    """
    H, W = x.shape[-2:]
    planes = x.reshape(-1, H, W)
    n_p = planes.shape[0]
    y = np.empty((*x.shape[:-2], s_h * H, s_w * W), x.dtype)
    yp = y.reshape(n_p, s_h * H, s_w * W)
    ph_w, ph_h = _linear_phases(s_w, x.dtype), _linear_phases(s_h, x.dtype)
    ws_w = sorted({w for _, a, b in ph_w for w in (a, b)})
    ws_h = sorted({w for _, a, b in ph_h for w in (a, b)})
    R = min(H, max(16, _LINEAR_BAND // (n_p * s_w * W)))
    G = min(n_p, max(1, _LINEAR_BAND // (R * s_w * W)))

    def run(bands: Sequence[tuple[int, int]]) -> None:
        pw = {w: np.empty((G, R + 2, W), x.dtype) for w in ws_w}
        tb = np.empty((G, R + 2, W, s_w), x.dtype)
        ph = {w: np.empty((G, R + 2, s_w * W), x.dtype) for w in ws_h}
        for p0, r0 in bands:
            g = min(G, n_p - p0)
            rr = min(R, H - r0)
            n = rr + 2
            if 1 <= r0 and r0 + rr < H:                 # input rows with their halo
                src = planes[p0:p0 + g, r0 - 1:r0 + rr + 1]
            else:                                       # edge-replicated at the border
                src = planes[p0:p0 + g, np.clip(np.arange(r0 - 1, r0 + rr + 1), 0, H - 1)]
            for w in ws_w:
                np.multiply(src, w, out=pw[w][:g, :n])
            t = tb[:g, :n]
            for r, (f, a, b) in enumerate(ph_w):       # columns: t[..., j, r] = out s_w*j + r
                pa, pb = pw[a][:g, :n], pw[b][:g, :n]
                if f < 0:                               # j = 0 reads x[-1]: clamped, = x[0]
                    np.add(pa[..., :W - 1], pb[..., 1:], out=t[..., 1:, r])
                    t[..., 0, r] = src[..., 0]
                else:                                   # j = W-1 reads x[W]: = x[W-1]
                    np.add(pa[..., :W - 1], pb[..., 1:], out=t[..., :W - 1, r])
                    np.add(pa[..., W - 1], pb[..., W - 1], out=t[..., W - 1, r])
            t2 = t.reshape(g, n, s_w * W)
            for w in ws_h:
                np.multiply(t2, w, out=ph[w][:g, :n])
            out = yp[p0:p0 + g, s_h * r0:s_h * (r0 + rr)].reshape(g, rr, s_h, s_w * W)
            for r, (f, a, b) in enumerate(ph_h):       # rows: band row 1 + i is input r0 + i
                np.add(ph[a][:g, 1 + f:1 + f + rr], ph[b][:g, 2 + f:2 + f + rr],
                       out=out[:, :, r])
                if f < 0 and r0 == 0:                   # source row clamped to 0
                    out[:, 0, r] = t2[:, 1]

    bands = [(p0, r0) for p0 in range(0, n_p, G) for r0 in range(0, H, R)]
    k = -(-len(bands) // _threads(len(bands)))
    _run([partial(run, bands[i:i + k]) for i in range(0, len(bands), k)], y.size)
    return y


def _repeat_2d(x: np.ndarray, s_h: int, s_w: int) -> np.ndarray:
    """Nearest up-sampling of the last two axes by integer factors: each value an
    ``s_h x s_w`` block, written without gathers, in pieces of about :data:`_REPEAT_BAND`
    output values (runs of whole planes, or bands of one plane's rows) on the thread pool::

        y.reshape(planes, H, s_h, W, s_w)[:, i, 0, :, r] = x[:, i]     (strided copies)
        y.reshape(planes, H, s_h, W, s_w)[:, i, k]       = [:, i, 0]   (row copies)
    """
    H, W = x.shape[-2:]
    planes = x.reshape(-1, H, W)
    P = planes.shape[0]
    y = np.empty((*x.shape[:-2], s_h * H, s_w * W), x.dtype)
    y5 = y.reshape(P, H, s_h, W, s_w)
    per_row = s_h * s_w * W
    if per_row * H <= _REPEAT_BAND:                 # runs of whole planes
        step = max(1, _REPEAT_BAND // (per_row * H))
        pieces = [(slice(p, p + step), slice(None)) for p in range(0, P, step)]
    else:                                           # bands of one plane's rows
        R = max(1, _REPEAT_BAND // per_row)
        pieces = [(slice(p, p + 1), slice(r0, r0 + R)) for p in range(P)
                  for r0 in range(0, H, R)]

    def run(part: Sequence[tuple[slice, slice]]) -> None:
        for ps, band in part:
            for r in range(s_w):
                y5[ps, band, 0, :, r] = planes[ps, band]
            for k in range(1, s_h):
                y5[ps, band, k] = y5[ps, band, 0]

    k = -(-len(pieces) // _threads(len(pieces)))
    _run([partial(run, pieces[i:i + k]) for i in range(0, len(pieces), k)], y.size)
    return y


def _fast(x: np.ndarray, factors: dict[int, int], cubic: bool) -> np.ndarray:
    """Apply the fixed-phase pass along each axis in ``factors`` (axis -> integer factor)."""
    last = x.ndim - 1
    # bands pay a few dozen NumPy calls each: worth it for large planes only
    fused = last in factors and last - 1 in factors and x.shape[-2] * x.shape[-1] >= _FUSED_MIN
    y = x
    for axis in sorted(factors)[:-2] if fused else sorted(factors):
        y = _fast_axis_array(y, axis, factors[axis], cubic)
    if fused and not cubic:
        y = _linear_2d(y, factors[last - 1], factors[last])
    elif fused:
        y = _fast_2d(y, factors[last - 1], factors[last], cubic)
    return y


# ----------------------------------------------------------------------------------------
# Generic path: K gathers per axis
# ----------------------------------------------------------------------------------------

def _generic_axis(x: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``y[.., i, ..] = sum_k w[i, k] * x[.., idx[i, k], ..]`` along ``axis``.

    Taps with index -1 only pad windows to a common length (area and anti-aliased modes);
    they are masked out rather than multiplied by 0, so inf and nan reach exactly the
    outputs they reach in PyTorch, which multiplies zero linear/cubic weights but never
    reads outside a window.
    """
    if idx.shape[1] == 1 and np.all(w == 1):        # nearest (and copies): exact gathers
        return np.take(x, idx[:, 0], axis=axis)
    bshape = [1] * x.ndim
    bshape[axis] = idx.shape[0]
    w = w.astype(x.dtype, copy=False)
    y = None
    with np.errstate(invalid="ignore"):             # inf - inf = nan, silently, as torch
        for k in range(idx.shape[1]):
            g = np.take(x, np.maximum(idx[:, k], 0), axis=axis)
            g *= w[:, k].reshape(bshape)
            if np.any(idx[:, k] < 0):
                g[np.broadcast_to((idx[:, k] < 0).reshape(bshape), g.shape)] = 0
            if y is None:
                y = g
            else:
                y += g
    assert y is not None
    return y


def _block_matrices(n: int, idx: np.ndarray, w: np.ndarray, ob: int, dtype: np.dtype,
                    ) -> tuple[np.ndarray, int, np.ndarray]:
    """Cut a table's outputs into blocks of ``ob``: window starts, window width, ``M``.

    Block ``j`` reads inputs ``[start_j, start_j + width)`` and ``M[j]`` ``(width, ob)``
    holds its weights, so ``y[ob*j : ob*(j+1)] = M[j].T @ x[start_j : start_j + width]``.
    """
    m = idx.shape[0]
    nblk = -(-m // ob)
    valid = idx >= 0
    pad = nblk * ob - m
    lo = np.pad(np.where(valid, idx, n).min(axis=1), (0, pad), mode="edge")
    hi = np.pad(np.where(valid, idx, -1).max(axis=1), (0, pad), mode="edge")
    lo_b, hi_b = lo.reshape(nblk, ob).min(axis=1), hi.reshape(nblk, ob).max(axis=1)
    width = int((hi_b - lo_b).max()) + 1
    start = np.minimum(lo_b, n - width)
    i = np.broadcast_to(np.arange(m)[:, None], idx.shape)
    M = np.zeros((nblk, width, ob), dtype)
    np.add.at(M, ((i // ob)[valid], (idx - start[i // ob])[valid], (i % ob)[valid]),
              w[valid].astype(dtype))
    return start, width, M


#: Outputs per block of the block-GEMM pass: up-sampling along the last axis, where a
#: block's window stays narrow; every other pass, where a block's window of ``ob * n/m + K``
#: inputs (mostly zero weights) would cost far more multiply-adds than its ``K`` taps.
_BANDED_OUT = {True: 32, False: 8}


def _banded_axis(x: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The table along ``axis`` as one small dense GEMM per block of outputs
    (:data:`_BANDED_OUT`).

    For finite input only (``M`` holds zeros, and 0 * inf = nan). Along the last axis the
    windows are gathered once and each block is ``windows @ M_j``; along other axes a
    window is a plain slice of rows and each block is ``M_j.T @ rows``. Faster than the
    per-tap gathers from about 3 taps on.
    """
    n, m = x.shape[axis], idx.shape[0]
    inner1 = math.prod(x.shape[axis + 1:]) == 1
    ob = min(_BANDED_OUT[inner1 and m >= n], m)
    start, width, M = _block_matrices(n, idx, w, ob, x.dtype)
    nblk, full = M.shape[0], m // ob
    outer, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    shape = list(x.shape)
    shape[axis] = m
    y = np.empty(shape, x.dtype)
    isz = y.itemsize
    if inner == 1:
        rows, out = x.reshape(outer, n), y.reshape(outer, m)
        windows = (start[:, None] + np.arange(width)).ravel()

        def last(r: slice) -> None:
            A = np.take(rows[r], windows, axis=1).reshape(-1, nblk, width)
            if full:
                Y = as_strided(out[r], (full, A.shape[0], ob), (ob * isz, out.strides[0], isz))
                np.matmul(A[:, :full].transpose(1, 0, 2), M[:full], out=Y)
            if full < nblk:
                np.matmul(A[:, full], M[full, :, :m - full * ob], out=out[r, full * ob:])

        tasks = [partial(last, r) for r in _chunks(outer, _GEMM_SINGLE // (width * ob))]
    else:
        x3, y3 = x.reshape(outer, n, inner), y.reshape(outer, m, inner)
        Mt = M.transpose(0, 2, 1)

        def block(j: int, c: slice) -> None:
            o = slice(ob * j, min(ob * (j + 1), m))
            np.matmul(Mt[j, :o.stop - o.start], x3[:, start[j]:start[j] + width, c],
                      out=y3[:, o, c])

        cols = max(1, _GEMM_SINGLE // (width * ob))
        tasks = [partial(block, j, c) for j in range(nblk) for c in _chunks(inner, cols)]
    _run(tasks, x.size + y.size)
    return y


# ----------------------------------------------------------------------------------------
# Per-axis passes chosen from the table's structure
# ----------------------------------------------------------------------------------------

#: Longest input axis applied as a dense ``(n_out, n_in)`` product: one GEMM over all rows
#: reads each input once, where per-tap gathers re-read it once per tap.
_DENSE_MAX = 64


def _axis_pass(y: np.ndarray, axis: int, kind: str, idx: np.ndarray, w: np.ndarray,
               fast: bool) -> np.ndarray:
    """One axis of the separable resampling: the cheapest exact pass for this table.

    Nearest tables copy: an arithmetic progression of indices is a strided slice (a view;
    :func:`_resample` copies at the end), ``i // s`` is a broadcast of each input ``s``
    times. An area table over whole windows (``n_in % n_out == 0``) adds the window's
    strided slices and divides, as ATen's adaptive average pool. With numba, a linear or
    cubic table along the last axis runs compiled (:func:`_compiled_last`). A short axis of
    finite data with short rows after it (``n_in`` and the product of the later axes both
    at most :data:`_DENSE_MAX`) is one dense product. The rest: block GEMMs (3+ taps, or 2
    when up-sampling) or per-tap gathers.
    """
    n, m = y.shape[axis], idx.shape[0]
    if fast and idx.shape[1] == 1 and np.all(w == 1):
        view = _nearest_view(y, axis, idx[:, 0])
        if view is not None:
            return view
    inner = math.prod(y.shape[axis + 1:])
    short = n <= _DENSE_MAX and inner <= _DENSE_MAX
    # whole windows: k strided adds, each a pass over the output; a short axis with wide
    # windows (k > 4 along the last axis) is cheaper as one product
    if fast and kind == "area" and n % m == 0 and (n // m <= 4 or inner > 1 or not short):
        return _area_windows(y, axis, n // m)
    taps = idx.shape[1]
    if fast and kind in ("linear", "bicubic") and taps > 1 and inner == 1 and _compiled_fits(y):
        try:
            return _compiled_last(y, idx, w)
        except Exception as exc:                # a kernel that cannot load: NumPy passes
            if not _native.compile_failure(exc):
                raise
            _native.disable(exc)
    gemm = taps > 2 or (taps == 2 and m > n)        # block GEMMs beat gathers from ~3 taps
    product = _dense_axis if short else _banded_axis if gemm and y.size >= 1 << 16 else None
    if fast and taps > 1 and product is not None:
        # the products hold zero weights, and 0 * inf = nan: for finite data only. Checked
        # on the smaller side: a shrinking pass checks its output (a non-finite input that
        # reaches a product leaves inf or nan there) and then redoes it with gathers
        if m < n:
            with np.errstate(invalid="ignore", over="ignore"):
                out = product(np.ascontiguousarray(y), axis, idx, w)
            if _finite(out):
                return out
        elif _finite(y):
            return product(np.ascontiguousarray(y), axis, idx, w)
    return _generic_axis(y, axis, idx, w)


def _finite(y: np.ndarray) -> bool:
    """No inf or nan in ``y`` (a sum is a cheap test; an overflow only costs speed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(y.sum()))


def _compiled_last(x: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A linear or cubic table along the last axis with numba (the 2-D kernel's pass along
    that axis, written in place), rows split over the thread pool. Every tap is multiplied,
    zero weights included, as in ATen and :func:`_generic_axis`."""
    kernel = _native.kernels()["resample1d"]
    n, m = x.shape[-1], idx.shape[0]
    rows = np.ascontiguousarray(x).reshape(1, -1, n)
    R = rows.shape[1]
    iw, ww = idx.astype(np.intp, copy=False), w.astype(x.dtype, copy=False)
    out = np.empty((R, m), x.dtype)
    # the work: the rows read and the outputs written; two tasks a thread where it runs on
    # the pool, each a multiple of the four rows the loop takes at once
    work = R * (n + m)
    step = R if work < _PARALLEL_MIN else -(-R // (8 * _threads(R))) * 4
    every = np.arange(R, dtype=np.intp)
    tasks = [partial(kernel, rows, every, iw, ww, out, r0, min(R, r0 + step))
             for r0 in range(0, R, step)]
    _run(tasks, work)
    return out.reshape(*x.shape[:-1], m)


def _nearest_view(y: np.ndarray, axis: int, idx: np.ndarray) -> np.ndarray | None:
    """A nearest table without gathers, or None: ``idx = a + s*i`` is the strided slice
    ``a::s``; ``idx = i // s`` with ``n_out = s * n_in`` writes each input ``s`` times
    through a broadcast, ``y.reshape(outer, n, s, inner)[:, :, r] = x``."""
    n, m = y.shape[axis], idx.shape[0]
    step = int(idx[1] - idx[0]) if m > 1 else 1
    if step >= 1 and np.array_equal(idx, idx[0] + step * np.arange(m)):
        sl = [slice(None)] * y.ndim
        sl[axis] = slice(int(idx[0]), int(idx[0]) + step * (m - 1) + 1, step)
        return y[tuple(sl)]
    s = m // n
    if m == s * n and s > 1 and np.array_equal(idx, np.arange(m) // s):
        outer, inner = math.prod(y.shape[:axis]), math.prod(y.shape[axis + 1:])
        shape = list(y.shape)
        shape[axis] = m
        out = np.empty(shape, y.dtype)
        out.reshape(outer, n, s, inner)[...] = y.reshape(outer, n, 1, inner)
        return out
    return None


def _area_windows(y: np.ndarray, axis: int, k: int) -> np.ndarray:
    """Area down-sampling by a whole factor ``k``: output ``i`` is the mean of inputs
    ``[k*i, k*(i+1))``, the window's ``k`` strided slices added in order, then divided by
    ``k`` (ATen's adaptive average pool: sum, then divide). In chunks of the outer dims
    whose sums stay in cache, on the thread pool."""
    n = y.shape[axis]
    outer, inner = math.prod(y.shape[:axis]), math.prod(y.shape[axis + 1:])
    v = y.reshape(outer, n // k, k, inner)
    acc = np.empty((outer, n // k, inner), y.dtype)
    div = y.dtype.type(k)

    def run(rows: slice) -> None:
        a = acc[rows]
        np.copyto(a, v[rows, :, 0])
        for j in range(1, k):
            a += v[rows, :, j]
        a /= div

    step = max(1, _AREA_CHUNK // ((n // k) * inner))
    _run([partial(run, c) for c in _chunks(outer, step)], y.size)
    shape = list(y.shape)
    shape[axis] = n // k
    return acc.reshape(shape)


@_parallel.cached(64)
def _dense_matrix(n: int, shape: tuple[int, ...], idx_dtype: str, idx_bytes: bytes,
                  w_dtype: str, w_bytes: bytes, dtype: np.dtype) -> np.ndarray:
    """The dense ``(n_out, n_in)`` matrix of a table (``idx``, ``w`` given as bytes), in
    ``dtype``; remembered and read-only."""
    idx = np.frombuffer(idx_bytes, idx_dtype).reshape(shape)
    w = np.frombuffer(w_bytes, w_dtype).reshape(shape)
    m = shape[0]
    valid = idx >= 0
    R = np.zeros((m, n), dtype)
    rows = np.broadcast_to(np.arange(m)[:, None], shape)
    np.add.at(R, (rows[valid], idx[valid]), w[valid].astype(dtype))
    return R


def _dense_axis(x: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The table along a short ``axis`` as the dense ``R`` ``(n_out, n_in)``, finite input
    only (``R`` holds zeros, and 0 * inf = nan)::

        last axis:   y.reshape(rows, m) = x.reshape(rows, n) @ R.T       (row chunks)
        other axes:  y3[o] = R @ x3[o],  x3 = x.reshape(outer, n, inner)  (batched)
    """
    n, m = x.shape[axis], idx.shape[0]
    # the table's bytes are the key (a short axis: a few hundred bytes)
    R = _dense_matrix(n, idx.shape, idx.dtype.str, idx.tobytes(), w.dtype.str, w.tobytes(),
                      x.dtype)
    outer, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    shape = list(x.shape)
    shape[axis] = m
    y = np.empty(shape, x.dtype)
    if inner == 1:
        x2, y2, Rt = x.reshape(outer, n), y.reshape(outer, m), R.T
        tasks = [partial(np.matmul, x2[r], Rt, out=y2[r])
                 for r in _chunks(outer, _GEMM_SINGLE // (n * m))]
    else:
        x3, y3 = x.reshape(outer, n, inner), y.reshape(outer, m, inner)
        per = max(1, _GEMM_SINGLE // (n * m * inner))
        cols = max(1, _GEMM_SINGLE // (n * m))
        tasks = [partial(np.matmul, R, x3[r, :, c], out=y3[r, :, c])
                 for r in _chunks(outer, per) for c in _chunks(inner, cols)]
    _run(tasks, x.size + y.size)
    return y


# ----------------------------------------------------------------------------------------
# Argument checks (interpolation-specific; generic ones come from _checks)
# ----------------------------------------------------------------------------------------

def _check_mode(fn: str, mode: object) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        allowed = ", ".join(repr(m) for m in MODES)
        raise ValueError(f"{fn}: mode={_checks.fmt(mode)} must be one of {allowed}")
    return mode


def _check_align_corners(fn: str, mode: str, align_corners: object) -> bool:
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{fn}: align_corners={align_corners!r} must be None for "
                             f"mode={mode!r}; it only applies to the interpolating modes "
                             "linear, bilinear, bicubic and trilinear")
        return False
    if align_corners is None:
        return False
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{fn}: align_corners={_checks.fmt(align_corners)} must be a bool "
                        "or None")
    return bool(align_corners)


def _is_real(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _output_size(fn: str, spatial: tuple[int, ...], size: object, scale_factor: object,
                 recompute_scale_factor: object,
                 ) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """Output spatial size and the per-axis scale factor ATen receives (None: in/out)."""
    nd = len(spatial)
    if size is not None and scale_factor is not None:
        raise ValueError(f"{fn}: size={_checks.fmt(size)} and scale_factor="
                         f"{_checks.fmt(scale_factor)} were both given; give exactly one")
    if size is None and scale_factor is None:
        raise ValueError(f"{fn}: size and scale_factor are both None; give exactly one")
    if recompute_scale_factor is not None and not isinstance(recompute_scale_factor,
                                                             (bool, np.bool_)):
        raise TypeError(f"{fn}: recompute_scale_factor={_checks.fmt(recompute_scale_factor)} "
                        "must be a bool or None")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{fn}: recompute_scale_factor=True is not meaningful with an "
                             f"explicit size={_checks.fmt(size)}; give scale_factor instead")
        if isinstance(size, Sequence) and not isinstance(size, str) and len(size) != nd:
            raise ValueError(f"{fn}: size={_checks.fmt(size)} must have {nd} entries, one "
                             f"per spatial dim of the input (spatial size {spatial})")
        out = _checks.as_int_tuple(fn, "size", size, nd, minimum=1)
        return out, (None,) * nd
    if isinstance(scale_factor, Sequence) and not isinstance(scale_factor, str):
        if len(scale_factor) != nd:
            raise ValueError(f"{fn}: scale_factor={_checks.fmt(scale_factor)} must have {nd} "
                             f"entries, one per spatial dim of the input (spatial size "
                             f"{spatial})")
        factors = tuple(scale_factor)
    else:
        factors = (scale_factor,) * nd
    if not all(_is_real(f) for f in factors):
        raise TypeError(f"{fn}: scale_factor={_checks.fmt(scale_factor)} must be a number or "
                        "a tuple of numbers")
    if not all(math.isfinite(f) and f > 0 for f in factors):
        raise ValueError(f"{fn}: scale_factor={_checks.fmt(scale_factor)} must be finite and "
                         "positive in every spatial dim")
    out = tuple(int(n * float(f)) for n, f in zip(spatial, factors))
    if any(o < 1 for o in out):
        raise ValueError(f"{fn}: scale_factor={_checks.fmt(scale_factor)} gives an empty "
                         f"output size {out} for input spatial size {spatial}; output sizes "
                         "must be positive")
    if recompute_scale_factor:
        return out, (None,) * nd
    return out, tuple(float(f) for f in factors)


def interpolate(input: ArrayLike, size: int | tuple[int, ...] | None = None,
                scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False, *,
                cubic_a: float = CUBIC_A) -> Array:
    """Resample ``(N, C, *S)`` arrays exactly as ``torch.nn.functional.interpolate``.

    Fixed (non-learned) up- or down-sampling: every output sample is a fixed weighted sum
    of nearby input samples, the same for every channel -- the baseline a learned transposed
    convolution is compared with, and the kernel it is often initialised to.

    Args:
        input: array of shape ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        size: output spatial size, an int or one int per spatial dim.
        scale_factor: multiplier of the spatial size, a number or one per spatial dim;
            the output size is ``floor(in * scale_factor)``.
        mode: ``"nearest"``, ``"nearest-exact"``, ``"linear"`` (3-D input),
            ``"bilinear"`` / ``"bicubic"`` (4-D), ``"trilinear"`` (5-D) or ``"area"``.
        align_corners: linear and cubic modes only. ``True`` maps the centres of the corner
            samples onto each other (step ``(in-1)/(out-1)``); ``False``/``None`` treats
            samples as unit cells and maps the cells' outer edges (step ``in/out``).
        recompute_scale_factor: with ``scale_factor``, ``True`` samples with step
            ``in/out`` from the rounded output size instead of ``1/scale_factor``.
        antialias: ``"bilinear"``/``"bicubic"`` on 4-D input only: widen the filter by
            the down-sampling factor and renormalise it at the borders (Pillow's
            resampling; bicubic then uses ``a = -0.5``).
        cubic_a: keyword-only, ``"bicubic"`` without antialias only: Keys' coefficient
            ``a`` (default ``-0.75``, PyTorch's and OpenCV's; ``-0.5`` is Keys' own, PIL's and
            MATLAB's). Another value takes the per-axis table path.

    Returns:
        The resampled array; float32 and float64 input keep their dtype, float16 computes in
        float32 and is returned as float16, integer and bool input is returned as float64.

    Shape:
        ``(N, C, *S_in) -> (N, C, *S_out)`` with ``S_out = size`` or
        ``S_out = floor(S_in * scale_factor)``.

    Convention:
        Index rules are ATen's, reproduced here. ``"nearest"`` reads ``floor(i * scale)``
        with ``scale`` rounded to float32 -- the rule ATen's source keeps "for backward
        compatibility" and says matches OpenCV ``INTER_NEAREST``; ATen's 2-D nearest kernel
        (not the 1-D/3-D ones) ignores ``scale`` when ``out == in`` or ``out == 2*in``, and
        so does tconv. ``"nearest-exact"`` reads ``floor((i + 0.5) * scale)``: it equals
        Pillow's ``Image.NEAREST`` and ``scipy.ndimage.zoom(order=0, grid_mode=True,
        mode="nearest")`` (both tested). Linear modes clamp a negative source position to 0;
        ``"bicubic"`` is Keys' cubic with ``a = -0.75`` and clamped (edge-replicated)
        indices, with no anti-aliasing. ``"area"`` is adaptive average pooling over the
        window ``[floor(i*in/out), ceil((i+1)*in/out))``. float32 input follows ATen's
        float32 arithmetic for source positions (agreeing with torch to ~1e-7 relative
        even on long axes); float64 follows it in float64.

        When ``scale_factor`` is given (and ``recompute_scale_factor`` is not ``True``),
        PyTorch samples with step ``1/scale_factor``, not ``in/out``; the two differ when
        ``in * scale_factor`` is not an integer (e.g. 5 -> 7 with ``scale_factor=1.5``).

        Other libraries (tested against Pillow 13 on float ``"F"`` images):
        Pillow ``BILINEAR`` equals ``"bilinear"`` when up-sampling but anti-aliases
        (widens the filter) when down-sampling; Pillow ``BICUBIC`` uses ``a = -0.5``,
        renormalises the weights at the borders instead of clamping indices, and
        anti-aliases when down-sampling -- both equal ``antialias=True`` here and in torch
        (except that torch 2.13's ``antialias=True`` returns its first output row ``H``
        times when the output width is 1; tconv keeps Pillow's values there).
        OpenCV's ``INTER_CUBIC`` uses ``a = -0.75`` like PyTorch
        (``interpolateCubic`` in ``imgproc/src/resize.cpp``) but rounds its 8-bit weights to
        11-bit fixed point (``INTER_RESIZE_COEF_BITS``).

        Speed: for an integer factor with ``align_corners=False``, the linear and cubic
        modes use the fixed-phase path of the module docstring (one small banded matrix
        product per block and axis, power-of-two factors only for float32 so that rounding
        still matches ATen's; on large 2-D planes, linear adds the two taps' products
        directly, columns then rows like ATen). Nearest modes with integer factors on
        large 2-D planes copy blocks instead of gathering. Other tables with 3+ taps (or
        2 when up-sampling) run as one dense GEMM per block of 32 outputs built from the
        same table; the rest gather per tap. Matrix products stay below OpenBLAS's
        threading threshold and are spread over a thread pool instead. Linear or cubic
        input holding inf or nan takes the per-tap gathers, so that non-finite values reach
        exactly the outputs they reach in PyTorch. With numba, small calls, 1-D area, 3-D
        area that shrinks every axis and nearest tables that would be gathered compute
        every output from its taps in one compiled loop instead of a pass per axis; a
        float32/64 array with plain arguments is checked and planned once per shape and
        arguments.

    Raises:
        ValueError: for an input that is not 3-, 4- or 5-D, a mode that does not exist for
            its number of spatial dims, ``align_corners`` with nearest/area modes, both or
            neither of ``size``/``scale_factor``, wrong-length tuples, non-positive output
            sizes, ``recompute_scale_factor=True`` with ``size``, ``antialias=True`` outside
            bilinear/bicubic on 4-D input.
        TypeError: for a non-numeric input or non-integer sizes.
        ValueError: for an output of more than ``tconv.MAX_ELEMENTS`` numbers, before
            anything is allocated.

    Examples:
        >>> x = np.arange(4.0).reshape(1, 1, 4)
        >>> interpolate(x, scale_factor=2, mode="nearest")
        array([[[0., 0., 1., 1., 2., 2., 3., 3.]]])
        >>> interpolate(x, scale_factor=2, mode="linear")
        array([[[0.  , 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.  ]]])
        >>> interpolate(x, size=7, mode="linear", align_corners=True)
        array([[[0. , 0.5, 1. , 1.5, 2. , 2.5, 3. ]]])
        >>> interpolate(x, size=2, mode="area")
        array([[[0.5, 2.5]]])
        >>> img = np.arange(16.0).reshape(1, 1, 4, 4)
        >>> interpolate(img, size=(2, 2), mode="bilinear", antialias=True)[0, 0]  # = Pillow
        array([[ 3.57142857,  5.14285714],
               [ 9.85714286, 11.42857143]])
        >>> img = np.arange(4.0).reshape(1, 1, 2, 2)      # overshoots: a = -0.75 rings
        >>> interpolate(img, scale_factor=2, mode="bicubic")[0, 0, 0]
        array([-0.31640625,  0.015625  ,  0.5625    ,  0.89453125])
    """
    key = _plan_key(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                    antialias, cubic_a)
    if key is not None:                         # a float32/64 array and plain arguments
        return _plan(*key).run(cast(np.ndarray, input))
    x = _checks.as_array("interpolate", "input", input)
    plan = _make_plan(x.shape, x, size, scale_factor, mode, align_corners,
                      recompute_scale_factor, antialias, cubic_a)
    y = plan.run(x.astype(plan.dtype, copy=False))
    return y.astype(np.float16) if x.dtype == np.float16 else y


@dataclass(frozen=True)
class _Plan:
    """A validated call: its output size, the factors ATen receives, the resampling
    arguments and, for the calls the direct loop takes (:func:`_direct_tables`), the three
    axes' tables, as ``(index, weight)`` pairs over ``(D, H, W)`` (the indices alone where
    every weight is 1)."""

    dtype: np.dtype
    out_size: tuple[int, ...]
    factors: tuple[float | None, ...]
    mode: str
    align_corners: bool
    antialias: bool
    cubic_a: float
    direct: tuple[np.ndarray, ...] | None

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.direct is not None and _native.available():
            try:
                return _direct(x, self.out_size, self.direct)
            except Exception as exc:            # a kernel that cannot load: the passes
                if not _native.compile_failure(exc):
                    raise
                _native.disable(exc)
        return _resample(x, self.out_size, self.factors, self.mode, self.align_corners,
                         antialias=self.antialias, cubic_a=self.cubic_a)


def _plain(v: object, types: tuple[type, ...]) -> bool:
    """``v`` is None, of one of ``types`` exactly, or a tuple of those (hashable, and equal
    only to values that plan the same call: no bools, numpy scalars or lists)."""
    return v is None or type(v) in types or (type(v) is tuple
                                             and all(type(e) in types for e in v))


def _plan_key(input: object, size: object, scale_factor: object, mode: object,
              align_corners: object, recompute_scale_factor: object, antialias: object,
              cubic_a: object) -> tuple | None:
    """The arguments of :func:`_plan` for a call of a float32/64 array with plain
    arguments (a repeated call then skips the checks and the planning), else None."""
    if type(input) is not np.ndarray or input.dtype not in (_checks._F32, _checks._F64):
        return None
    if not (_plain(size, (int,)) and _plain(scale_factor, (int, float))
            and type(mode) is str and type(antialias) is bool
            and type(cubic_a) in (int, float)
            and (align_corners is None or type(align_corners) is bool)
            and (recompute_scale_factor is None or type(recompute_scale_factor) is bool)):
        return None
    return (input.shape, input.dtype, size, scale_factor, mode, align_corners,
            recompute_scale_factor, antialias, cubic_a)


@_parallel.cached(256)
def _plan(shape: tuple[int, ...], dtype: np.dtype, size: Any, scale_factor: Any,
          mode: Any, align_corners: Any, recompute_scale_factor: Any,
          antialias: Any, cubic_a: Any) -> _Plan:
    """:func:`_make_plan` remembered (a model resizes the same shapes call after call);
    an invalid call raises and is not remembered."""
    return _make_plan(shape, np.empty(0, dtype), size, scale_factor, mode, align_corners,
                      recompute_scale_factor, antialias, cubic_a)


def _make_plan(shape: tuple[int, ...], x: np.ndarray, size: Any, scale_factor: Any,
               mode: Any, align_corners: Any, recompute_scale_factor: Any,
               antialias: Any, cubic_a: Any) -> _Plan:
    """Check a call of an input of ``shape`` (``x``: an array of its dtype) and plan it."""
    fn = "interpolate"
    mode = _check_mode(fn, mode)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"{fn}: input of shape {tuple(shape)} must have 3, 4 or 5 dims "
                         "(N, C, *spatial) with 1, 2 or 3 spatial dims")
    nd = len(shape) - 2
    need = _MODE_DIMS.get(mode)
    if need is not None and need != nd:
        raise ValueError(f"{fn}: mode={mode!r} needs {need + 2}-D input (N, C, {need} spatial "
                         f"dims), got input of shape {tuple(shape)}; use "
                         f"{['linear', 'bilinear', 'trilinear'][nd - 1]!r} for {nd + 2}-D "
                         "input")
    ac = _check_align_corners(fn, mode, align_corners)
    spatial = tuple(int(v) for v in shape[2:])
    if shape[1] == 0 or 0 in spatial:
        raise ValueError(f"{fn}: input of shape {tuple(shape)} must have non-zero size in "
                         "every non-batch dim")
    if mode == "area" and scale_factor is not None and size is None:
        recompute_scale_factor = True               # PyTorch: area always uses in/out
    out_size, factors = _output_size(fn, spatial, size, scale_factor, recompute_scale_factor)
    _checks.check_elements(fn, "an output", (*shape[:2], *out_size),
                           {"size": size} if size is not None else
                           {"scale_factor": scale_factor})
    if not isinstance(antialias, (bool, np.bool_)):
        raise TypeError(f"{fn}: antialias={_checks.fmt(antialias)} must be a bool")
    if antialias and not (mode in ("bilinear", "bicubic") and nd == 2):
        raise ValueError(f"{fn}: antialias=True needs mode 'bilinear' or 'bicubic' and 4-D "
                         f"input, got mode={mode!r} and input of shape {tuple(shape)}")

    dtype = _checks.result_dtype(fn, ("input", x))
    if cubic_a != CUBIC_A:
        if not _is_real(cubic_a) or not math.isfinite(cubic_a):
            raise TypeError(f"{fn}: cubic_a={_checks.fmt(cubic_a)} must be a finite number")
        if mode != "bicubic" or antialias:
            raise ValueError(f"{fn}: cubic_a={_checks.fmt(cubic_a)} applies to "
                             f"mode='bicubic' without antialias only, got mode={mode!r}, "
                             f"antialias={antialias!r}")
    kind = "linear" if mode in ("bilinear", "trilinear") else mode
    kind += "-aa" if antialias else ""
    direct = _direct_tables(shape, out_size, factors, kind, ac, dtype, float(cubic_a))
    return _Plan(dtype, out_size, factors, mode, ac, bool(antialias), float(cubic_a), direct)


def _direct_tables(shape: tuple[int, ...], out_size: tuple[int, ...],
                   factors: tuple[float | None, ...], kind: str, ac: bool, dtype: np.dtype,
                   cubic_a: float) -> tuple[np.ndarray, ...] | None:
    """The direct loop's tables (:func:`_direct`) for a call it runs faster than the
    passes, else None: a small call (outputs x taps <= :data:`_DIRECT_MAX`), area windows
    along one axis or shrinking three, or nearest tables the passes would gather along
    some axis (1-D: copy in runs shorter than :data:`_DIRECT_ROW`, output rows of at least
    :data:`_DIRECT_ROW` values), and 2-D or 3-D nearest calls of at most
    :data:`_GATHER_PLANES` planes and :data:`_GATHER_OUTPUTS` outputs."""
    spatial = shape[2:]
    nd = len(out_size)
    # one axis of area windows: the direct loop is that axis's one pass (no tap
    # repeated), and beats NumPy's window sums and products at every size; windows along
    # three axes that all shrink: the loop sums each window once, where the passes make
    # three of NumPy's window sums over rows that volumes keep short (an axis that grows
    # has windows of one or two inputs, and the passes' copies win there;
    # benchmarks/RESULTS.md, "Random resizes")
    single = kind == "area" and (nd == 1 or nd == 3 and all(
        m <= n for n, m in zip(spatial, out_size)))
    nearest = kind in ("nearest", "nearest-exact")
    outputs = math.prod(shape[:2]) * math.prod(out_size)
    if not (single or nearest or outputs <= _DIRECT_MAX):
        return None
    tables = [_axis_table(n, m, kind, ac, f, dtype.type, nearest_2d=nd == 2, cubic_a=cubic_a)
              for n, m, f in zip(spatial, out_size, factors)]
    taps = math.prod(t[0].shape[1] for t in tables)
    # nearest tables the passes copy as slices or repeats (whole factors) along every
    # axis stay there (on 2-D and 3-D data they copy whole rows or blocks); where some
    # axis would be gathered (a np.take over the whole array, an index a value), the
    # direct loop copies each output row once, at any row length. Along the one axis of
    # 1-D data the passes copy runs of single values or of s repeats: only runs of
    # _DIRECT_ROW values or more stay with them.
    runs = [_copied(t[0][:, 0], n) for t, n in zip(tables, spatial)]
    # ... and on 2-D and 3-D data, slices and repeats too where the loop's rows are few
    # (at most _GATHER_PLANES planes: the passes copy all planes in one NumPy call, the
    # loop pays for each plane's rows) and the output fits a last-level cache (at most
    # _GATHER_OUTPUTS values: beyond, both stream memory and the passes' block copies
    # stream faster)
    few = math.prod(shape[:2]) <= _GATHER_PLANES and outputs <= _GATHER_OUTPUTS
    gathered = nearest and (runs[0] < _DIRECT_ROW and out_size[-1] >= _DIRECT_ROW
                            if nd == 1 else few or not all(runs))
    if not (single or gathered or outputs * taps <= _DIRECT_MAX):
        return None
    pairs = [(np.zeros((1, 1), np.intp), np.ones((1, 1), dtype))] * (3 - nd) + tables
    if all(idx.shape[1] == 1 and bool((w == 1).all()) for idx, w in pairs):
        # one tap of weight 1 on every axis (nearest modes): a gather, no weights
        return tuple(idx.astype(np.intp) for idx, _ in pairs)
    return tuple(a for idx, w in pairs for a in (idx.astype(np.intp), w.astype(dtype)))


#: calls whose outputs times taps (per axis, multiplied) are at most this run as one
#: compiled loop over every output (:func:`_direct`): below it a pass per axis costs more
#: in calls and temporaries than the direct loop's repeated taps (1-D area calls, and 3-D
#: ones that shrink every axis, take it at any size). ``python
#: benchmarks/bench_interpolate.py --sweep 40 --seed S --no-zoo`` times seeded resizes on
#: both sides of it.
_DIRECT_MAX = 1 << 17
#: multiply-adds of the direct loop from which its output rows are split over the pool
_DIRECT_SPLIT = 1 << 18
#: 1-D nearest calls run the direct loop at any size where the passes would copy runs
#: shorter than this (gathers included) and an output row holds at least this many values
_DIRECT_ROW = 64
#: 2-D and 3-D nearest calls whose every axis is a strided slice or a whole-factor repeat
#: run the direct loop where they have at most this many planes and this many output
#: values (``python benchmarks/nearest_paths.py --seeds 31,32,33,34,35,36``: the loop took
#: 0.36-0.95 of the passes' time on such calls of 3-64 planes and up to 2 M outputs; on
#: 256-4,096 planes mostly more, up to 2.2x, and 1.10-1.12x at 16-25 M outputs)
_GATHER_PLANES = 64
_GATHER_OUTPUTS = 1 << 23


def _copied(idx: np.ndarray, n: int) -> int:
    """How a pass copies a nearest table without a gather (:func:`_nearest_view`): the
    length of its runs of one value -- 1 for a strided slice ``a + s*i``, ``s`` for each
    input ``s`` times (``i // s``, ``n_out = s * n_in``) -- or 0 where it gathers."""
    m = idx.shape[0]
    step = int(idx[1] - idx[0]) if m > 1 else 1
    if step >= 1 and np.array_equal(idx, idx[0] + step * np.arange(m)):
        return 1
    s = m // n
    return s if m == s * n and s > 1 and np.array_equal(idx, np.arange(m) // s) else 0


def _direct(x: np.ndarray, out_size: tuple[int, ...], tables: tuple[np.ndarray, ...],
            ) -> np.ndarray:
    """Every output from its taps in one compiled loop (``resample_direct``; nearest
    tables, one tap of weight 1 an axis: ``resample_gather``); from
    :data:`_DIRECT_SPLIT` multiply-adds, ranges of output rows (or of planes, where there
    are few rows) on the thread pool.
    ``tables``: index and weight of the depth, row and column axes (a missing axis: one
    tap of weight 1), or their indices alone where every weight is 1."""
    lead = (1,) * (5 - x.ndim)
    P = x.shape[0] * x.shape[1]
    out = np.empty((P, *lead, *out_size), x.dtype)
    src = np.ascontiguousarray(x).reshape(P, *lead, *x.shape[2:])
    rows = out.shape[2]
    # three index tables: one tap of weight 1 on every axis (nearest modes), a gather
    # whose rows that read the input row of the row before are copied
    gather = len(tables) == 3
    kernel = _native.kernels()["resample_gather" if gather else "resample_direct"]
    work = out.size * math.prod(t.shape[1] for t in (tables if gather else tables[0::2]))
    threads = 1 if work < _DIRECT_SPLIT else _threads(max(rows, P))
    if threads < 2:
        kernel(src, *tables, out, 0, rows, 0, P)
    elif rows >= 2 * threads:                   # ranges of output rows
        step = -(-rows // (2 * threads))
        _parallel.for_each(lambda b: kernel(src, *tables, out, b, min(rows, b + step), 0, P),
                           range(0, rows, step), min_items=2)
    else:                                       # few rows (1-D): ranges of planes
        step = -(-P // (2 * threads))
        _parallel.for_each(lambda p: kernel(src, *tables, out, 0, rows, p, min(P, p + step)),
                           range(0, P, step), min_items=2)
    return out.reshape(*x.shape[:2], *out_size)


#: input values from which 2-D linear/cubic resampling at other factors runs compiled
_COMPILED_MIN = 1 << 14

#: output values of one chunk of the area windows' sums (kept in L2 while the window's
#: slices are added)
_AREA_CHUNK = 1 << 15

#: nearest whole factors of the last two axes run as row copies (:func:`_repeat_2d`, one
#: pass on the thread pool) on planes from the fused size, and on smaller planes up to
#: this factor along the last axis: beyond it the copies' writes of every s-th value cost
#: more than the per-axis broadcasts' runs of s equal values
_REPEAT_MAX_SMALL = 3

#: output rows per band of the compiled 2-D resampling (their input rows stay in L2)
_COMPILED_BAND = 32

#: 2-D linear resizes whose input rows are each read by fewer output rows than this (on
#: average) compute every output from its four inputs (``resample2d_taps2``): the band
#: buffer of the compiled loop pays where more output rows share each resampled row
#: (up-sampling, mild shrinking). Measured over shrinking and growing frames, one thread:
#: ``python benchmarks/resample_taps2.py``
_TAPS2_MAX_REUSE = 2.0

#: input values a plane from which area and anti-aliased 2-D resizes run the compiled loop:
#: on smaller planes (a 7x7 map's global average, 14x14 -> 5x5) one dense product or a few
#: strided adds over every plane at once cost less than a compiled pass a plane, on larger
#: ones (60x60 -> 6x6, 1024x1024 -> 379x379) the compiled loop reads each input once
#: (``benchmarks/bench_interpolate.py``: ``psp_area_6``, ``vgg_area_7``)
_WINDOWS_COMPILED_MIN = 1024

#: 1-D linear resampling at whole factors up to this runs compiled (two gathered taps an
#: output, :func:`_compiled_last`); at larger factors the fixed-phase products (blocks of
#: ``s*b`` outputs from ``b + 2`` inputs, ``b`` as few as 4) cost less an output
_COMPILED_MAX_FACTOR = 4


def _compiled_fits(x: np.ndarray) -> bool:
    """The compiled resampling loops take ``x``: float32 or float64, at least
    :data:`_COMPILED_MIN` values, numba available."""
    if x.dtype not in (np.float32, np.float64) or x.size < _COMPILED_MIN:
        return False
    return _native.available()


@_parallel.cached(64)
def _padded_table(n_in: int, n_out: int, kind: str, align_corners: bool,
                  scale_factor: float | None, opmath: type, dtype: np.dtype,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """An axis table for the compiled loops, which take the same number of taps for every
    output: a padding tap (index -1, area and anti-aliased windows) reads the output's
    first input with weight 0 (input 0 for an output whose window holds none: an
    anti-aliased table up-sampled past the input's end), so every index is in
    ``[0, n_in)`` -- the loops read them unchecked. Exact for finite data (a finite
    ``0 * x`` adds nothing); :func:`_compiled_2d` checks for the rest. Weights in ``dtype``."""
    idx, w = _axis_table(n_in, n_out, kind, align_corners, scale_factor, opmath,
                         nearest_2d=True)
    pad = idx < 0
    first = np.maximum(idx[:, :1], 0)
    return (np.where(pad, first, idx).astype(np.intp),
            np.where(pad, 0, w).astype(dtype))


@_parallel.cached(64)
def _read_rows(n_in: int, n_out: int, kind: str, align_corners: bool,
               scale_factor: float | None, opmath: type, dtype: np.dtype,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """The row table of :func:`_compiled_2d`: the input rows some output reads (all of them
    unless the rows shrink more than the taps reach), each tap's index among them, the
    weights in ``dtype``, the most rows one band of :data:`_COMPILED_BAND` output rows
    spans, and the row reuse: the taps of all output rows over the rows the bands resample
    (remembered: a model resizes the same shapes call after call)."""
    ih, wh = _padded_table(n_in, n_out, kind, align_corners, scale_factor, opmath, dtype)
    rows, inv = np.unique(ih, return_inverse=True)
    at = inv.reshape(n_out, -1).astype(np.intp)
    band = _COMPILED_BAND
    spans = [int(at[b:b + band].max() - at[b:b + band].min()) + 1
             for b in range(0, n_out, band)]
    return rows.astype(np.intp), at, wh, max(spans), at.size / sum(spans)


def _compiled_2d(x: np.ndarray, out_size: tuple[int, ...], factors: tuple[float | None, ...],
                 kind: str, align_corners: bool, opmath: type) -> np.ndarray:
    """2-D resampling by two tables (linear, cubic, area, anti-aliased) with numba: per
    band of output rows, the band's input rows along the last axis, then the rows --
    ATen's order, one loop. Area and anti-aliased tables pad their windows with weight-0
    taps (:func:`_padded_table`): finite data only.
    On 3x1024x1024 float32 (``benchmarks/bench_interpolate.py``): bilinear x1.5 17.2 ->
    7.3 ms, bicubic x1.5 18.0 -> 9.1 ms against the banded NumPy passes."""
    (H, W), (OH, OW) = x.shape[2:], out_size
    rows, ih, wh, span, reuse = _read_rows(H, OH, kind, align_corners, factors[0], opmath,
                                           x.dtype)
    iw, ww = _padded_table(W, OW, kind, align_corners, factors[1], opmath, x.dtype)
    planes = np.ascontiguousarray(x).reshape(-1, H, W)
    # few output rows share an input row (shrinking): each output from its four inputs
    direct = kind == "linear" and reuse < _TAPS2_MAX_REUSE
    if direct:
        kernel = _native.kernels()["resample2d_taps2"]
        ih, wh = _padded_table(H, OH, kind, align_corners, factors[0], opmath, x.dtype)
    else:
        kernel = _native.kernels()["resample2d_planes"]
    out = np.empty((planes.shape[0], OH, OW), x.dtype)
    band = _COMPILED_BAND
    # (first, last plane, first, last output row) tasks: about two a thread -- runs of
    # planes (one compiled call each), or row ranges of a plane when there are few
    n_planes = planes.shape[0]
    threads = _threads(2 * n_planes)
    if n_planes >= 2 * threads:
        per = -(-n_planes // (2 * threads))
        tasks = [(p, min(n_planes, p + per), 0, OH) for p in range(0, n_planes, per)]
    else:
        pieces = max(1, -(-2 * threads // n_planes))
        step = -(-OH // pieces // band) * band
        tasks = [(p, p + 1, o0, min(OH, o0 + step)) for p in range(n_planes)
                 for o0 in range(0, OH, step)]

    def run(task: tuple[int, int, int, int]) -> None:
        if direct:
            kernel(planes, ih, wh, iw, ww, out, *task)
        else:
            kernel(planes, rows, ih, wh, iw, ww, out, np.empty((span, OW), x.dtype), *task,
                   band)

    # the work: the rows read and the outputs written
    _run([partial(run, t) for t in tasks], n_planes * (len(rows) * W + OH * OW))
    return out.reshape(*x.shape[:2], OH, OW)


def _pass_order(n: tuple[int, ...], m: tuple[int, ...], d: int) -> tuple[bool, bool, float, int]:
    """Sort key of the generic axes: shrinking axes first, those before the last axis
    first (their passes copy whole rows; the last axis's pass gathers windows, cheaper
    once the others have shrunk the data), the most shrinking first; then the growing axes,
    the least growing first and among equal ratios the last axis first (its data is
    smallest before the others grow)."""
    ratio = m[d] / n[d]
    return ratio >= 1, ratio < 1 and d == len(n) - 1, ratio, -d


def _resample(x: np.ndarray, out_size: tuple[int, ...], factors: tuple[float | None, ...],
              mode: str, align_corners: bool, fast: bool = True,
              antialias: bool = False, cubic_a: float = CUBIC_A) -> np.ndarray:
    """Validated core: one pass per spatial axis; ``fast=False`` forces the gather path."""
    if x.size == 0:                             # an empty batch: nothing to resample
        return np.empty((*x.shape[:2], *out_size), x.dtype)
    nd = x.ndim - 2
    spatial = x.shape[2:]
    kind = "linear" if mode in ("bilinear", "trilinear") else mode
    if antialias:
        kind += "-aa"
    opmath = x.dtype.type
    fixed = {}
    # the fast path's block matrices hold zeros, and 0 * inf = nan would spread a non-finite
    # value over its whole block; a sum is a cheap test for one (overflow only costs speed)
    torch_cubic = cubic_a == CUBIC_A            # the fixed-phase and compiled paths hold it
    if fast and torch_cubic and kind in ("linear", "bicubic") and not align_corners:
        for d, (n, m, f) in enumerate(zip(spatial, out_size, factors)):
            s = m // n
            # float32 source positions are exact for power-of-two factors only; other
            # factors go through the tables to round like ATen's float32 arithmetic
            exact = opmath == np.float64 or s & (s - 1) == 0
            if m == s * n and s >= 2 and (f is None or f == s) and exact \
                    and not (nd == 1 and s <= _COMPILED_MAX_FACTOR and _compiled_fits(x)):
                fixed[2 + d] = s
        if fixed and not _finite(x):
            fixed = {}
    # generic axes first, in the order of _pass_order
    # nearest modes whose last two axes read i // s (integer factors): block copies
    repeat = {}
    if fast and kind in ("nearest", "nearest-exact") and nd >= 2:
        for d in (nd - 2, nd - 1):
            s = out_size[d] // spatial[d]
            if out_size[d] == s * spatial[d] and s >= 1:
                idx, _ = _axis_table(spatial[d], out_size[d], kind, False, factors[d],
                                     opmath, nearest_2d=nd == 2)
                if np.array_equal(idx[:, 0], np.arange(out_size[d]) // s):
                    repeat[2 + d] = s
        if len(repeat) < 2 or set(repeat.values()) == {1} or (
                spatial[-2] * spatial[-1] < _FUSED_MIN and repeat[nd + 1] > _REPEAT_MAX_SMALL):
            repeat = {}
    # the compiled loop also beats the fixed-phase passes on planes below the fused size.
    # Area and anti-aliased windows are padded with weight-0 taps, exact for finite data:
    # checked on the smaller side, as the products below (a non-finite input that a tap
    # reads leaves inf or nan in the output; the gathers then redo it). On planes below
    # _WINDOWS_COMPILED_MIN values the dense products and strided adds cost less.
    padded = kind in ("area", "linear-aa", "bicubic-aa")
    if (fast and torch_cubic and nd == 2 and not repeat
            and (not fixed or spatial[0] * spatial[1] < _FUSED_MIN)
            and (kind in ("linear", "bicubic")
                 or (padded and spatial[0] * spatial[1] >= _WINDOWS_COMPILED_MIN))
            and _compiled_fits(x)):
        shrinks = math.prod(out_size) <= math.prod(spatial)
        try:
            if not padded or shrinks or _finite(x):
                y = _compiled_2d(x, out_size, factors, kind, align_corners, opmath)
                if not (padded and shrinks) or _finite(y):
                    return y
        except Exception as exc:                # a kernel that cannot load: NumPy passes
            if not _native.compile_failure(exc):
                raise
            _native.disable(exc)
    order = sorted((d for d in range(nd) if 2 + d not in fixed and 2 + d not in repeat),
                   key=partial(_pass_order, spatial, out_size))
    y = x
    for d in order:
        if kind == "linear" and spatial[d] == out_size[d]:
            # the table is x*1 + x*0 (ATen's arithmetic): no pass for finite values
            finite = np.isfinite(y)
            if not finite.all():
                y = np.where(finite, y, np.array(np.nan, y.dtype))
            continue
        idx, w = _axis_table(spatial[d], out_size[d], kind, align_corners, factors[d],
                             opmath, nearest_2d=nd == 2, cubic_a=cubic_a)
        y = _axis_pass(y, 2 + d, kind, idx, w, fast)
    if fixed:
        y = _fast(np.ascontiguousarray(y), fixed, kind == "bicubic")
    if repeat:
        y = _repeat_2d(np.ascontiguousarray(y), repeat[nd], repeat[nd + 1])
    # nearest passes may return strided views (of the input too): the result is always a
    # new C-contiguous array
    if np.may_share_memory(y, x) or not y.flags.c_contiguous:
        y = _fresh_copy(y)
    return y


def _fresh_copy(y: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``y`` (a strided view of ``(N, C, *S)``), in ranges of its
    longest axis before the last on the thread pool when large."""
    out = np.empty(y.shape, y.dtype)
    a = max(range(y.ndim - 1), key=lambda d: y.shape[d])
    n = y.shape[a]
    lead = (slice(None),) * a
    tasks = [partial(np.copyto, out[(*lead, c)], y[(*lead, c)])
             for c in _chunks(n, -(-n // (2 * _threads(n))))]
    _run(tasks, 2 * y.size)
    return out
