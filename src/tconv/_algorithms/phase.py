"""conv_transpose by sub-pixel (phase) decomposition.

Output position ``o = q*stride + r`` receives tap ``t`` from input ``i`` exactly when
``i*stride + t*dilation - pad_low = o``, i.e. ``i = q + (r + pad_low - t*dilation)/stride``
for the taps ``t`` that make the division exact. So each of the ``stride**ndim`` output
phases ``r`` is a small dense stride-1 correlation of the *un-dilated* input with a sub-kernel:

    y[..., r::s] = sum_t x[..., q + c_t] * weight[..., t]       (t in taps(r))

No zero is ever inserted; the phases are interleaved into the output (a pixel shuffle).
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import ConvParams


def phase_taps(r: int, k: int, s: int, d: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    """Taps ``t`` reaching output phase ``r`` and their input offsets ``c_t``."""
    t = np.arange(k)
    num = r + lo - t * d
    keep = num % s == 0
    return t[keep], num[keep] // s


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    n, c_in, *size = x.shape
    nd, g = p.ndim, p.groups
    cig, cog = c_in // g, w.shape[1]
    y = np.zeros((n, g * cog, *out), dtype=x.dtype)
    wg = w.reshape(g, cig, cog, *p.kernel)
    per_dim = []
    for a in range(nd):
        phases = []
        for r in range(min(p.stride[a], out[a])):
            taps, offs = phase_taps(r, p.kernel[a], p.stride[a], p.dilation[a], p.pad_lo[a])
            nq = -(-(out[a] - r) // p.stride[a])
            phases.append((r, taps, offs, nq))
        per_dim.append(phases)
    for combo in itertools.product(*per_dim):
        if any(len(taps) == 0 for _, taps, _, _ in combo):
            continue
        cols = x
        # gather x[..., q + c_t] per dim, zeros outside: (N, C, *S) -> (N, C, *T, *Q)
        for a, (_, _, offs, nq) in enumerate(combo):
            idx = offs[:, None] + np.arange(nq)[None, :]               # (T_a, Q_a)
            low = max(0, -int(idx.min()))
            high = max(0, int(idx.max()) - (size[a] - 1))
            axis = 2 + a + a  # earlier dims already expanded to (T, Q) pairs
            widths = [(0, 0)] * cols.ndim
            widths[axis] = (low, high)
            if low or high:
                cols = np.pad(cols, widths)
            cols = np.take(cols, idx + low, axis=axis)
        # cols: (N, C, T1, Q1, T2, Q2, ...) -> (g, Cig, *T, N, *Q)
        t_axes = [2 + 2 * a for a in range(nd)]
        q_axes = [3 + 2 * a for a in range(nd)]
        cols = cols.reshape(n, g, cig, *cols.shape[2:])
        perm = (1, 2, *(ax + 1 for ax in t_axes), 0, *(ax + 1 for ax in q_axes))
        cols = cols.transpose(perm)
        ntap = int(np.prod([len(tp) for _, tp, _, _ in combo]))
        nq = tuple(q for _, _, _, q in combo)
        sub = wg[np.ix_(range(g), range(cig), range(cog), *(tp for _, tp, _, _ in combo))]
        sub = sub.transpose(0, 2, 1, *range(3, 3 + nd)).reshape(g, cog, cig * ntap)
        res = np.matmul(sub, cols.reshape(g, cig * ntap, -1))          # (g, Cog, N*prodQ)
        res = np.moveaxis(res.reshape(g * cog, n, *nq), 1, 0)
        y[(Ellipsis, *(slice(r, None, s) for (r, _, _, _), s in zip(combo, p.stride)))] = res
    return y
