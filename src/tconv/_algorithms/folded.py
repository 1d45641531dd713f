"""conv_transpose with every sub-pixel phase folded into the columns of one matrix product.

Along a spatial dim with stride ``s`` and kernel ``K`` (dilation 1), output ``o = q*s + r``
of the uncropped result sums the taps ``t = r + (J-1-j)*s`` (``j < J = ceil(K/s)``, taps
``>= K`` are zero) of input ``q + j - (J-1)``. So, with ``x`` channels-last on a grid with
``J-1`` zeros each side and ``Q = S_in + J - 1`` positions a dim::

    P = windows_J(x) @ W_f     # (N*prod(Q), prod(J)*C_in/g) @ (prod(J)*C_in/g, C_out/g*prod(s))
    y[n, c, q*s + r - pad_low] = P[(n, q), (c, r)]                     (depth-to-space)

One product computes every phase of every output channel: there is no loop over phases or
taps, only one copy of the input's windows (``prod(J)`` times the input) and one of the
result into ``y``. Its multiply-adds are :func:`overhead` times the useful ones (the zero
taps past ``K`` and the ``J-1`` border positions): 1 + small for ``K = 2s`` (FCN, DCGAN),
more for other kernels. Blocks of images -- or, for a large image, of rows of ``q`` along
the first dim, which write disjoint output rows -- run on the thread pool.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import ConvParams
from . import _parallel
from ._matmul import matmul

__all__ = ["applies", "overhead", "conv_transpose", "macs"]

#: numbers in one block's windows and product together (4 MiB of float32)
BLOCK_ELEMENTS = 1 << 20


def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams) -> bool:
    """The layer can be folded: dilation 1 in every dim (the folded taps of a phase are
    consecutive inputs), not depthwise (its own paths), a non-empty image."""
    return (all(d == 1 for d in p.dilation) and all(x_shape[2:])
            and not (x_shape[1] // p.groups == 1 and w_shape[1] == 1))


def _taps(p: ConvParams) -> tuple[int, ...]:
    """``J``: taps a phase per dim."""
    return tuple(-(-k // s) for k, s in zip(p.kernel, p.stride))


def overhead(size: tuple[int, ...], p: ConvParams) -> float:
    """Multiply-adds of the folded product over the useful ones:
    ``prod(J*s / K) * prod((S_in + J - 1) / S_in)``."""
    return math.prod(j * s / k * (n + j - 1) / n
                     for j, s, k, n in zip(_taps(p), p.stride, p.kernel, size))


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams) -> int:
    """Multiply-adds :func:`conv_transpose` performs."""
    n, c_in, *size = x_shape
    jt = _taps(p)
    q = math.prod(s + j - 1 for s, j in zip(size, jt)) if all(size) else 0
    return n * q * math.prod(jt) * c_in * w_shape[1] * math.prod(p.stride)


def _weights(w: np.ndarray, p: ConvParams) -> np.ndarray:
    """``W_f (g, prod(J)*C_in/g, C_out/g*prod(s))``: rows ``(j..., ci)``, columns
    ``(c, r...)``, ``W_f[(j, ci), (c, r)] = w[ci, c, r + (J-1-j)*s]`` (0 past ``K``)."""
    c_in, cog, *kernel = w.shape
    g, nd = p.groups, len(kernel)
    cig = c_in // g
    jt, st = _taps(p), p.stride
    if any(j * s != k for j, s, k in zip(jt, st, kernel)):
        padded = np.zeros((c_in, cog, *(j * s for j, s in zip(jt, st))), w.dtype)
        padded[(slice(None), slice(None), *(slice(0, k) for k in kernel))] = w
        w = padded
    # (g, ci, c, j0, r0, j1, r1, ...) with j reversed -> (g, j0, j1, ..., ci, c, r0, r1, ...)
    v = w.reshape(g, cig, cog, *(d for j, s in zip(jt, st) for d in (j, s)))
    v = v[(slice(None),) * 3 + (slice(None, None, -1), slice(None)) * nd]
    perm = (0, *(3 + 2 * a for a in range(nd)), 1, 2, *(4 + 2 * a for a in range(nd)))
    return np.ascontiguousarray(v.transpose(perm)).reshape(
        g, math.prod(jt) * cig, cog * math.prod(st))


def _pieces(lo: int, length: int, s: int, q_total: int
            ) -> list[tuple[int, int, int, int, int]]:
    """How output ``o < length`` of one dim maps onto ``(q, r)``, ``o = q*s + r - lo``:
    ``(q0, nq, r0, nr, o0)`` runs -- a partial first ``q``, the whole ``q``s, a partial last
    one -- each a ``(nq, nr)`` block of outputs from ``o0`` (``nq == 1`` or ``nr == s``).
    Outputs no ``q < q_total`` reaches are left out."""
    first, last = max(lo, 0), min(lo + length, q_total * s)      # uncropped positions
    out: list[tuple[int, int, int, int, int]] = []
    pos = first
    while pos < last:
        q, r = divmod(pos, s)
        if r or last - pos < s:                                    # one partial q
            nr = min(s - r, last - pos)
            out.append((q, 1, r, nr, pos - lo))
            pos += nr
        else:                                                      # whole qs
            nq = (last - pos) // s
            out.append((q, nq, 0, s, pos - lo))
            pos += nq * s
    return out


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    """``y (N, C_out, *out)`` of a batched, validated layer with dilation 1 (see the module
    docstring): per block, the windows' copy, one product and the depth-to-space copies."""
    n, c_in, *size = x.shape
    g, nd = p.groups, len(size)
    cig, cog = c_in // g, w.shape[1]
    jt, st = _taps(p), p.stride
    q = tuple(s + j - 1 for s, j in zip(size, jt))
    pieces = [_pieces(lo, o, s, qa) for lo, o, s, qa in zip(p.pad_lo, out, st, q)]
    covered = all(sum(nq * nr for _, nq, _, nr, _ in pc) == o for pc, o in zip(pieces, out))
    y = (np.empty if covered else np.zeros)((n, g * cog, *out), dtype=x.dtype)
    if y.size == 0 or x.size == 0:
        return y
    wf = _weights(w, p)
    # x channels-last with J-1 zeros each side of every dim
    grid = (n, *(s + 2 * (j - 1) for s, j in zip(size, jt)), c_in)
    xt = _parallel.scratch("fold_x", math.prod(grid), x.dtype).reshape(grid)
    inner = tuple(slice(j - 1, j - 1 + s) for s, j in zip(size, jt))
    if any(j > 1 for j in jt):
        xt.fill(0)
    np.copyto(xt[(slice(None), *inner)], np.moveaxis(x, 1, -1))
    win = sliding_window_view(xt, jt, axis=tuple(range(1, nd + 1)))  # (N, *Q, C_in, *J)
    nj, ns = math.prod(jt), math.prod(st)
    rest = math.prod(q[1:])
    per_row = rest * (nj * cig + cog * ns)                # one q-row of one image's block
    rows = min(q[0], max(1, BLOCK_ELEMENTS // per_row))
    nb = 1
    if rows == q[0]:
        # whole images: a block's product BLAS threads runs alone, not cut for the pool
        most = max(1, BLOCK_ELEMENTS // (q[0] * per_row))
        threaded = _parallel.in_order(min(n, most) * q[0] * rest * nj * cig * cog * ns)
        nb = _parallel.even_split(n, most, g, pool=not threaded)
    blocks = [(gi, n0, min(n, n0 + nb), a, min(q[0], a + rows)) for gi in range(g)
              for n0 in range(0, n, nb) for a in range(0, q[0], rows)]
    # windows (nb, qb, *Q', J..., ci) of a block, in the (j..., ci) order of W_f's rows
    perm = (0, *range(1, nd + 1), *range(nd + 2, 2 * nd + 2), nd + 1)

    def run(block: tuple[int, int, int, int, int]) -> None:
        gi, n0, n1, a, b = block
        sub = win[(slice(n0, n1), slice(a, b), Ellipsis, slice(gi * cig, (gi + 1) * cig),
                   *(slice(None),) * nd)]
        m = (n1 - n0) * (b - a) * rest
        cols = _parallel.scratch("fold_cols", m * nj * cig, x.dtype)
        np.copyto(cols.reshape(n1 - n0, b - a, *q[1:], *jt, cig), sub.transpose(perm))
        prod = _parallel.scratch("fold_prod", m * cog * ns, x.dtype).reshape(m, cog * ns)
        matmul(cols.reshape(m, nj * cig), wf[gi], out=prod)
        pv = prod.reshape(n1 - n0, b - a, *q[1:], cog, *st)
        yb = y[n0:n1, gi * cog:(gi + 1) * cog]
        first = [(q0 - a, min(q0 + nq, b) - max(q0, a), r0, nr,
                  o0 + (max(q0, a) - q0) * st[0])
                 for q0, nq, r0, nr, o0 in pieces[0] if q0 < b and q0 + nq > a]
        for combo in itertools.product(first, *pieces[1:]):
            # source (nb, q0.., q1.., ..., c, r0.., r1.., ...) -> (nb, c, q0, r0, q1, r1, ...)
            src = pv[(slice(None), *(slice(max(qa, 0), max(qa, 0) + nq)
                                     for qa, nq, _, _, _ in combo), slice(None),
                      *(slice(r0, r0 + nr) for _, _, r0, nr, _ in combo))]
            src = src.transpose(0, nd + 1, *(d for k in range(nd) for d in (1 + k, nd + 2 + k)))
            dst = yb[(slice(None), slice(None),
                      *(slice(o0, o0 + nq * nr) for _, nq, _, nr, o0 in combo))]
            dst = dst.reshape(n1 - n0, cog, *(d for _, nq, _, nr, _ in combo for d in (nq, nr)))
            if not np.may_share_memory(dst, yb):    # splitting an axis is always a view
                raise AssertionError("folded: depth-to-space target is not a view of y")
            np.copyto(dst, src)

    _parallel.for_each(run, blocks, blas_macs=_parallel.blas_product(max(
        ((n1 - n0) * (b - a) * rest for _, n0, n1, a, b in blocks), default=0),
        nj * cig, cog * ns))
    return y

