"""Per-axis resampling tables of each framework's resize, one function per convention.

A resize is separable: along one axis it is ``y = R @ x`` and each row of ``R`` has a few
non-zeros. Every framework builds ``R`` from the same three choices, made differently:

1. a *coordinate transform*: the source position ``src(i)`` sampled by output ``i``
   (``(i + 0.5) * in/out - 0.5`` "half pixel", ``i * in/out`` "asymmetric",
   ``i * (in-1)/(out-1)`` "align corners", ...);
2. a *kernel* ``k(d)`` weighting input ``j`` by ``k((j - src) / stretch)``, where
   ``stretch = max(in/out, 1)`` when the kernel is widened to anti-alias a down-sampling;
3. what happens at the *border* (indices clamped -- edge replication -- or taps outside
   dropped and the row renormalised) and how the numbers are *rounded* (float32
   coefficients, fixed point for 8-bit images).

Here each convention returns its tables ``(idx, w, outside)``: ``idx`` and ``w`` are
``(out, K)`` source indices and weights (index -1: no tap), ``outside`` marks outputs
that take a constant instead (ONNX ``tf_crop_and_resize``) or is None. Weights are float64
unless a framework computes them in float32, in which case they are float32 values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .interpolate import cubic_far, cubic_near

__all__: list[str] = []

Table = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


# ----------------------------------------------------------------------------------------
# Kernels k(d), evaluated on |d| (float64 arrays)
# ----------------------------------------------------------------------------------------

def keys_cubic(d: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a`` (support 2), on arrays: the
    branches are :func:`tconv.interpolate.cubic_near` and ``cubic_far``."""
    d = np.abs(d)
    return np.where(d <= 1, cubic_near(d, a), np.where(d < 2, cubic_far(d, a), 0.0))


def triangle(d: np.ndarray) -> np.ndarray:
    return np.maximum(1 - np.abs(d), 0.0)


def lanczos(d: np.ndarray, radius: int) -> np.ndarray:
    """``sinc(d) * sinc(d / radius)`` for ``|d| < radius`` (JAX/TF spelling)."""
    d = np.abs(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = radius * np.sin(np.pi * d) * np.sin(np.pi * d / radius) / (np.pi ** 2 * d * d)
    out = np.where(d > 1e-3, y, 1.0)
    return np.where(d > radius, 0.0, out)


def gaussian(d: np.ndarray) -> np.ndarray:
    """TensorFlow's Gaussian: sigma 0.5, cut at radius 1.5."""
    d = np.abs(d)
    return np.where(d >= 1.5, 0.0, np.exp(-d * d / (2 * 0.5 ** 2)))


def mitchell(d: np.ndarray) -> np.ndarray:
    """Mitchell-Netravali cubic, B = C = 1/3 (support 2)."""
    d = np.abs(d)
    far = (((-7 / 18) * d + 2) * d - 10 / 3) * d + 16 / 9
    near = (((7 / 6) * d - 2) * d) * d + 8 / 9
    return np.where(d >= 2, 0.0, np.where(d >= 1, far, near))


def _sequential_sum(w: np.ndarray) -> np.ndarray:
    """Row sums added left to right (C loops do; NumPy's pairwise sum rounds differently)."""
    total = np.zeros(w.shape[0], w.dtype)
    for k in range(w.shape[1]):
        total = total + w[:, k]
    return total


# ----------------------------------------------------------------------------------------
# ONNX Resize (opset 19), following onnx.reference's op_resize
# ----------------------------------------------------------------------------------------

def onnx_coordinates(n_in: int, n_out: int, scale: float, mode: str,
                     roi: tuple[float, float]) -> tuple[np.ndarray, np.ndarray | None]:
    """Source positions ``x_original`` of ONNX's ``coordinate_transformation_mode``.

    As the operator's specification (and onnxruntime) writes them: ``length_resized`` is
    the integer output length ``n_out``, ``output_width = scale * n_in`` may be fractional.
    """
    y = np.arange(n_out, dtype=np.float64)
    outside = None
    if mode == "align_corners":
        x = np.zeros(n_out) if n_out == 1 else y * (n_in - 1) / (n_out - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        lo, hi = roi
        if n_out == 1:
            x = np.full(n_out, 0.5 * (lo + hi) * (n_in - 1))
        else:
            x = lo * (n_in - 1) + y * (hi - lo) * (n_in - 1) / (n_out - 1)
        outside = (x < 0) | (x > n_in - 1)
    elif mode == "pytorch_half_pixel":
        x = np.zeros(n_out) if n_out == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / (scale * n_in))
        x = offset + (y + 0.5) / scale - 0.5
    else:  # pragma: no cover - checked by the caller
        raise ValueError(mode)
    return x, outside


def onnx_table(n_in: int, n_out: int, scale: float, method: str, *, coordinate_mode: str,
               nearest_mode: str, cubic_coeff_a: float, exclude_outside: bool,
               antialias: bool, roi: tuple[float, float]) -> Table:
    """ONNX Resize along one axis.

    ``x_ori`` is split as ``base + ratio`` with ``ratio`` in ``(0, 1]`` (an integer position
    counts as ratio 1 of the sample to its left); the ``n`` taps are ``base - n/2 + 1 ...
    base + n/2``, read with edge replication, unless ``exclude_outside`` drops the taps
    outside ``[0, n_in)`` and renormalises.
    """
    x, outside = onnx_coordinates(n_in, n_out, scale, coordinate_mode, roi)
    base = np.floor(x)
    ratio = np.where(x == base, 1.0, x - base)
    base = np.where(x == base, base - 1, base).astype(np.int64)
    if method == "nearest":
        if nearest_mode == "round_prefer_floor":
            right = ratio > 0.5
        elif nearest_mode == "round_prefer_ceil":
            right = ratio >= 0.5
        elif nearest_mode == "floor":
            right = np.zeros(n_out, bool)
        else:                                       # "ceil"
            right = np.ones(n_out, bool)
        right = right | (ratio == 1)
        offsets = np.array([0, 1])
        w = np.stack([~right, right], axis=1).astype(np.float64)
    else:
        s = min(scale, 1.0) if antialias else 1.0
        half = 1 if method == "linear" else 2
        start = int(np.floor(-half / s) + 1) if antialias else 1 - half
        offsets = np.arange(start, 1 - start + 1)                # n = 2 - 2 * start taps
        d = (offsets[None, :] - ratio[:, None]) * s
        if method == "linear":
            w = np.clip(1 - np.abs(d), 0, 1)
        else:
            w = keys_cubic(d, cubic_coeff_a)
        if antialias:
            w = w / _sequential_sum(w)[:, None]
    idx = base[:, None] + offsets[None, :]
    if exclude_outside and method != "nearest":
        w = np.where((idx < 0) | (idx >= n_in), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    return np.clip(idx, 0, n_in - 1), w, outside


# ----------------------------------------------------------------------------------------
# JAX jax.image.resize and TensorFlow's scale_and_translate
# ----------------------------------------------------------------------------------------

SCALE_AND_TRANSLATE_RADIUS = {"triangle": 1.0, "keyscubic": 2.0, "lanczos3": 3.0,
                              "lanczos5": 5.0, "gaussian": 1.5, "mitchellcubic": 2.0}


def _kernel(name: str, d: np.ndarray) -> np.ndarray:
    if name == "triangle":
        return triangle(d)
    if name == "keyscubic":
        return keys_cubic(d, -0.5)
    if name == "lanczos3":
        return lanczos(d, 3)
    if name == "lanczos5":
        return lanczos(d, 5)
    if name == "gaussian":
        return gaussian(d)
    return mitchell(d)


def scale_and_translate_table(n_in: int, n_out: int, kernel: str, antialias: bool,
                              scale: float | None = None, translation: float = 0.0,
                              float32: bool = False) -> Table:
    """``jax.image.scale_and_translate`` / TF ``ScaleAndTranslate`` along one axis.

    Output ``i`` samples ``src = (i + 0.5 - translation) / scale - 0.5``; input ``j`` gets
    ``k((j - src) / stretch)`` over every input sample (no clamping), the row is
    renormalised to sum 1, and outputs whose ``src`` lies outside ``[-0.5, in - 0.5]`` are 0.
    ``float32=True`` computes positions and kernel arguments in float32 and keeps only the
    taps of TensorFlow's span, as its kernel does (which matters where a tap sits exactly
    on the kernel's edge, e.g. the Gaussian's at 1.5).
    """
    ftype: Any = np.float32 if float32 else np.float64
    step = ftype(n_out) / ftype(n_in) if scale is None else ftype(scale)
    inv = ftype(1) / step
    stretch = max(inv, ftype(1)) if antialias else ftype(1)
    centre = (np.arange(n_out, dtype=ftype) + ftype(0.5)) * inv - ftype(translation) * inv
    src = centre - ftype(0.5)
    radius = ftype(SCALE_AND_TRANSLATE_RADIUS[kernel]) * stretch
    K = min(2 * int(math.ceil(radius)) + 2, n_in)
    first = np.clip(np.ceil(src - radius).astype(np.int64), 0, max(n_in - K, 0))
    idx = first[:, None] + np.arange(K)[None, :]
    pos = idx.astype(ftype) + ftype(0.5) - centre[:, None]          # TF's kernel_pos
    w = _kernel(kernel, np.abs(pos * (ftype(1) / stretch)).astype(np.float64))
    if float32:                                     # TF's span [start, end)
        start = np.clip(np.ceil(centre - radius - ftype(0.5)), 0, n_in - 1)
        end = np.clip(np.floor(centre + radius - ftype(0.5)), 0, n_in - 1) + 1
        w = np.where((idx >= start[:, None]) & (idx < end[:, None]), w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    ok = np.abs(total) > 1000 * float(np.finfo(np.float32).eps)
    w = np.where(ok, w / np.where(total != 0, total, 1), 0.0)
    w = np.where(((src >= -0.5) & (src <= n_in - 0.5))[:, None], w, 0.0)
    return idx, w, None


def jax_nearest_table(n_in: int, n_out: int) -> Table:
    """``floor((i + 0.5) * in / out)`` in float32, as ``jax.image.resize`` computes it."""
    i = np.arange(n_out, dtype=np.float32) + np.float32(0.5)
    idx = np.floor(i * np.float32(n_in) / np.float32(n_out)).astype(np.int64)
    return np.minimum(idx, n_in - 1)[:, None], np.ones((n_out, 1)), None


def tf_nearest_table(n_in: int, n_out: int) -> Table:
    """TF ``resize_nearest_neighbor(half_pixel_centers=True)``: float32 scale ``in/out``."""
    scale = np.float32(n_in) / np.float32(n_out)
    i = np.arange(n_out, dtype=np.float32) + np.float32(0.5)
    idx = np.clip(np.floor(i * scale).astype(np.int64), 0, n_in - 1)
    return idx[:, None], np.ones((n_out, 1)), None


def tf_bilinear_table(n_in: int, n_out: int) -> Table:
    """TF ``resize_bilinear(half_pixel_centers=True)``: float32, taps clamped."""
    scale = np.float32(n_in) / np.float32(n_out)
    src = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    lo_f = np.floor(src)
    lerp = (src - lo_f).astype(np.float64)
    lo = np.maximum(lo_f.astype(np.int64), 0)
    hi = np.minimum(np.ceil(src).astype(np.int64), n_in - 1)
    return np.stack([lo, hi], axis=1), np.stack([1 - lerp, lerp], axis=1), None


def tf_bicubic_table(n_in: int, n_out: int) -> Table:
    """TF ``resize_bicubic(half_pixel_centers=True)``.

    Keys' cubic with ``a = -0.5`` read from a 1025-entry table (the fraction is rounded to
    1/1024), taps outside the input dropped and the row renormalised.
    """
    size = 1024
    t = np.arange(size + 1) / size
    table0 = keys_cubic(t, -0.5).astype(np.float32).astype(np.float64)         # |d| <= 1
    table1 = keys_cubic(t + 1, -0.5).astype(np.float32).astype(np.float64)     # 1 < |d|
    scale = np.float32(n_in) / np.float32(n_out)
    src = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    base = np.floor(src).astype(np.int64)
    off = np.rint((src - np.floor(src)) * np.float32(size)).astype(np.int64)
    w = np.stack([table1[off], table0[off], table0[size - off], table1[size - off]], axis=1)
    idx = base[:, None] + np.arange(-1, 3)[None, :]
    w = np.where((idx < 0) | (idx >= n_in), 0.0, w)
    total = w.sum(axis=1, keepdims=True)
    w = w / np.where(total == 0, 1.0, total)
    return np.clip(idx, 0, n_in - 1), w, None


def tf_area_table(n_in: int, n_out: int) -> Table:
    """TF ``resize_area``: output ``i`` averages the input over ``[i*s, (i+1)*s)``,
    ``s = in/out``, counting partly covered samples by their covered length."""
    scale = n_in / n_out
    lo = np.arange(n_out) * scale
    hi = (np.arange(n_out) + 1) * scale
    start = np.floor(lo).astype(np.int64)
    K = int(np.max(np.ceil(hi).astype(np.int64) - start))
    j = start[:, None] + np.arange(K)[None, :]
    cover = np.minimum(j + 1, hi[:, None]) - np.maximum(j, lo[:, None])
    w = np.maximum(cover, 0.0) / scale
    return np.minimum(j, n_in - 1), w, None


# ----------------------------------------------------------------------------------------
# Pillow (Resample.c precompute_coeffs) and OpenCV (resize.cpp)
# ----------------------------------------------------------------------------------------

PIL_SUPPORT = {"box": 0.5, "bilinear": 1.0, "hamming": 1.0, "bicubic": 2.0, "lanczos": 3.0}


def _pil_filter(name: str, x: np.ndarray) -> np.ndarray:
    if name == "box":
        return np.where((x > -0.5) & (x <= 0.5), 1.0, 0.0)
    ax = np.abs(x)
    if name == "bilinear":
        return np.where(ax < 1, 1 - ax, 0.0)
    if name == "hamming":
        with np.errstate(invalid="ignore", divide="ignore"):
            px = ax * np.pi
            v = np.sin(px) / px * (0.54 + 0.46 * np.cos(px))
        return np.where(ax == 0, 1.0, np.where(ax >= 1, 0.0, v))
    if name == "bicubic":
        a = -0.5
        # Pillow writes the outer branch as (((x - 5) x + 8) x - 4) a: kept, for its rounding
        return np.where(ax < 1, cubic_near(ax, a),
                        np.where(ax < 2, (((ax - 5) * ax + 8) * ax - 4) * a, 0.0))

    def sinc(v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(v == 0, 1.0, np.sin(v * np.pi) / (v * np.pi))
    return np.where((x >= -3) & (x < 3), sinc(x) * sinc(x / 3), 0.0)


def pil_table(n_in: int, n_out: int, method: str,
              box: tuple[float, float] | None = None) -> Table:
    """Pillow's ``Image.resize`` along one axis (``box`` = the source interval used)."""
    lo, hi = (0.0, float(n_in)) if box is None else box
    lo32, hi32 = np.float32(lo), np.float32(hi)            # Pillow's box is float32
    lo = float(lo32)
    scale = float(hi32 - lo32) / n_out
    if method == "nearest":
        # ImagingScaleAffine: position (i + 0.5) * scale accumulated step by step
        steps = np.full(n_out, scale)
        steps[0] = lo + scale * 0.5
        pos = np.add.accumulate(steps)
        idx = np.where(pos < 0, -1, pos.astype(np.int64))
        return np.clip(idx, 0, n_in - 1)[:, None], np.ones((n_out, 1)), None
    filterscale = max(scale, 1.0)
    support = PIL_SUPPORT[method] * filterscale
    K = int(math.ceil(support)) * 2 + 1
    center = lo + (np.arange(n_out) + 0.5) * scale
    xmin = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), n_in) - xmin
    j = np.arange(K)
    w = _pil_filter(method, (j[None, :] + xmin[:, None] - center[:, None] + 0.5)
                    * (1.0 / filterscale))
    valid = j[None, :] < xmax[:, None]
    w = np.where(valid, w, 0.0)
    total = _sequential_sum(w)
    w = np.where(total[:, None] != 0, w / np.where(total != 0, total, 1)[:, None], w)
    return np.where(valid, xmin[:, None] + j, -1), w, None


def _cv_cubic(fx: np.ndarray) -> np.ndarray:
    a = np.float32(-0.75)
    one = np.float32(1)
    x = fx.astype(np.float32)                       # interpolateCubic, in float32
    c0 = cubic_far(x + one, a)
    c1 = cubic_near(x, a)
    c2 = cubic_near(one - x, a)
    c3 = one - c0 - c1 - c2
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.float32)


def _cv_lanczos4(fx: np.ndarray) -> np.ndarray:
    s45 = 0.70710678118654752440084436210485
    cs = [(1, 0), (-s45, -s45), (0, 1), (s45, -s45), (-1, 0), (s45, s45), (0, -1), (-s45, s45)]
    x = fx.astype(np.float32).astype(np.float64)
    y0 = -(x + 3) * np.pi * 0.25
    s0, c0 = np.sin(y0), np.cos(y0)
    coeffs = np.empty((len(x), 8), np.float32)
    total = np.zeros(len(x), np.float32)
    for i in range(8):
        d = (x + 3 - i).astype(np.float32)
        yy = -d.astype(np.float64) * np.pi * 0.25
        with np.errstate(invalid="ignore", divide="ignore"):
            v = ((cs[i][0] * s0 + cs[i][1] * c0) / (yy * yy)).astype(np.float32)
        coeffs[:, i] = np.where(np.abs(d) >= np.float32(1e-6), v, np.float32(1e30))
        total = (total + coeffs[:, i]).astype(np.float32)
    return (coeffs * (np.float32(1) / total)[:, None]).astype(np.float32)


def opencv_table(n_in: int, n_out: int, method: str, inv_scale: float,
                 area_down: bool) -> Table:
    """OpenCV ``cv2.resize`` along one axis.

    ``inv_scale`` is OpenCV's ``out/in`` (or ``fx``); ``area_down`` selects INTER_AREA's
    box-coverage weights (OpenCV uses them when no axis is up-sampled), otherwise
    INTER_AREA up-samples with bilinear taps positioned by coverage.
    """
    scale = 1.0 / inv_scale
    i = np.arange(n_out)
    if method == "nearest":
        idx = np.minimum(np.floor(i * scale).astype(np.int64), n_in - 1)
        return idx[:, None], np.ones((n_out, 1)), None
    if method == "nearest_exact":
        # position (i + 0.5) * in/out, accumulated step by step in double precision
        steps = np.full(n_out, n_in / n_out)
        steps[0] = 0.5 * (n_in / n_out)
        pos = np.add.accumulate(steps)
        idx = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
        return idx[:, None], np.ones((n_out, 1)), None
    if method == "area" and area_down:
        return _opencv_area_table(n_in, n_out, scale)
    if method == "area":
        sx = np.floor(i * scale).astype(np.int64)
        fx = ((i + 1) - (sx + 1) * inv_scale).astype(np.float32)
        fx = np.where(fx <= 0, np.float32(0), fx - np.floor(fx)).astype(np.float32)
    else:
        src = ((i + 0.5) * scale - 0.5).astype(np.float32)
        sx = np.floor(src).astype(np.int64)
        fx = (src - sx.astype(np.float32)).astype(np.float32)
    if method in ("linear", "area"):
        low = sx < 0
        high = sx >= n_in - 1
        fx = np.where(low | high, np.float32(0), fx)
        sx = np.where(low, 0, np.where(high, n_in - 1, sx))
        w = np.stack([np.float32(1) - fx, fx], axis=1).astype(np.float32)
        idx = sx[:, None] + np.arange(2)[None, :]
    elif method == "cubic":
        w = _cv_cubic(fx)
        idx = sx[:, None] + np.arange(-1, 3)[None, :]
    else:                                           # "lanczos4"
        w = _cv_lanczos4(fx)
        idx = sx[:, None] + np.arange(-3, 5)[None, :]
    return np.clip(idx, 0, n_in - 1), w.astype(np.float64), None


def _opencv_area_table(n_in: int, n_out: int, scale: float) -> Table:
    """``computeResizeAreaTab``: covered fraction of each input cell, float32 weights."""
    rows: list[list[tuple[int, float]]] = []
    for dx in range(n_out):
        fsx1 = dx * scale
        fsx2 = fsx1 + scale
        cell = min(scale, n_in - fsx1)
        sx1, sx2 = math.ceil(fsx1), math.floor(fsx2)
        sx2 = min(sx2, n_in - 1)
        sx1 = min(sx1, sx2)
        taps: list[tuple[int, float]] = []
        if sx1 - fsx1 > 1e-3:
            taps.append((sx1 - 1, (sx1 - fsx1) / cell))
        for sx in range(sx1, sx2):
            taps.append((sx, 1.0 / cell))
        if fsx2 - sx2 > 1e-3:
            taps.append((sx2, min(min(fsx2 - sx2, 1.0), cell) / cell))
        rows.append(taps)
    K = max(len(t) for t in rows)
    idx = np.full((n_out, K), -1, np.int64)
    w = np.zeros((n_out, K))
    for r, taps in enumerate(rows):
        for k, (j, v) in enumerate(taps):
            idx[r, k] = j
            w[r, k] = float(np.float32(v))
    return idx, w, None
