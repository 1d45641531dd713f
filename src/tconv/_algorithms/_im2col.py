"""Index helpers shared by the algorithms: pad/crop, im2col windows, strided block adds.

All helpers work on batched arrays ``(N, C, *S)`` with 1-3 spatial dims and never loop
over elements in Python; loops run over kernel taps or spatial dims only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad_crop(x: np.ndarray, pad: Sequence[tuple[int, int]]) -> np.ndarray:
    """Zero-pad (positive) or crop (negative) the trailing ``len(pad)`` axes of ``x``."""
    nd = len(pad)
    lead = x.ndim - nd
    crop = tuple(slice(max(-lo, 0), x.shape[lead + a] - max(-hi, 0))
                 for a, (lo, hi) in enumerate(pad))
    x = x[(slice(None),) * lead + crop]
    widths = [(0, 0)] * lead + [(max(lo, 0), max(hi, 0)) for lo, hi in pad]
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths)
    return x


def windows(xp: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
            dilation: Sequence[int], out: Sequence[int]) -> np.ndarray:
    """View of the conv windows of padded ``xp``: ``(..., *S) -> (..., *out, *kernel)``.

    ``windows(xp)[..., o, t] == xp[..., o*stride + t*dilation]`` (per spatial dim); no copy.
    """
    nd = len(kernel)
    axes = tuple(range(xp.ndim - nd, xp.ndim))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    v = sliding_window_view(xp, reach, axis=axes)          # (..., *positions, *reach)
    pos = tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, stride))
    taps = tuple(slice(None, None, d) for d in dilation)
    return v[(Ellipsis, *pos, *taps)]


def group_view(a: np.ndarray, groups: int) -> np.ndarray:
    """``(N, C, *S) -> (N, groups, C/groups, *S)`` (a view)."""
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, *a.shape[2:])


def conv_gemm(x: np.ndarray, w: np.ndarray, stride: Sequence[int],
              pad: Sequence[tuple[int, int]], dilation: Sequence[int], groups: int,
              out: Sequence[int]) -> np.ndarray:
    """Direct convolution (cross-correlation) by im2col + one batched matrix product.

    ``x`` is ``(N, C_in, *S)``, ``w`` is ``(C_out, C_in/groups, *K)``; returns
    ``(N, C_out, *out)``. ``pad`` pairs may be negative (crop). Only the first ``out``
    positions are computed.
    """
    nd = w.ndim - 2
    n = x.shape[0]
    c_out, cig = w.shape[:2]
    kernel = w.shape[2:]
    xp = pad_crop(x, pad)
    win = windows(group_view(xp, groups), kernel, stride, dilation, out)  # (N,g,Cig,*out,*K)
    # (N, g, Cig, *out, *K) -> (g, Cig, *K, N, *out) -> (g, Cig*prodK, N*prodOut)
    perm = (1, 2, *range(3 + nd, 3 + 2 * nd), 0, *range(3, 3 + nd))
    cols = win.transpose(perm).reshape(groups, cig * int(np.prod(kernel)), -1)
    wg = w.reshape(groups, c_out // groups, -1)                         # (g, Cog, Cig*prodK)
    y = np.matmul(wg, cols)                                             # (g, Cog, N*prodOut)
    y = y.reshape(c_out, n, *out)
    return np.moveaxis(y, 1, 0)


def block_slices(start: int, count: int, step: int, lo: int, length: int,
                 ) -> tuple[slice, slice] | None:
    """Place ``count`` points ``start + i*step`` into the window ``[lo, lo + length)``.

    Returns ``(source, destination)`` slices (source indexes ``i``, destination indexes the
    window), or ``None`` if no point falls inside.
    """
    first = max(0, -(-(lo - start) // step))               # ceil((lo - start) / step)
    last = min(count - 1, (lo + length - 1 - start) // step)
    if last < first:
        return None
    d0 = start + first * step - lo
    return slice(first, last + 1), slice(d0, d0 + (last - first) * step + 1, step)
