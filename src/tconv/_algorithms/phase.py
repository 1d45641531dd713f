"""conv_transpose by sub-pixel (phase) decomposition.

Output position ``o = q*stride + r`` receives tap ``t`` from input ``i`` exactly when
``i*stride + t*dilation - pad_low = o``, i.e. ``i = q + (r + pad_low - t*dilation)/stride``
for the taps ``t`` that make the division exact. So each of the ``stride**ndim`` output
phases ``r`` is a small dense stride-1 correlation of the *un-dilated* input with a sub-kernel:

    y[..., r::s] = sum_t x[..., q + c_t] * weight[..., t]       (t in taps(r))

No zero is ever inserted and every output is written once (no read-modify-write scatter);
the phases are interleaved into the output (a pixel shuffle).

The input is stored once, channels first and zero-padded, as ``X (C_in, N*prod(S_pad))``
with a gap of zeros after every row (the picture for one spatial dim, gap 1)::

    X row: | x0 x1 x2 x3 0 | x0' x1' x2' x3' 0 | ...      (one "0" between images)

so the input of a tap, ``x[q + c_t]``, is the *window* ``X[:, c_t : c_t + L]``: a shift of
the flat index, no copy. A phase is then ``Y = sum_t W_t.T @ X[:, off_t : off_t + L]``,
summed inside BLAS (``beta = 1``, :mod:`._blas`). The gap positions are computed and thrown
away -- ``prod(S_pad) / prod(S_in)`` extra work, e.g. 13 % for 16x16 inputs and a 4x4 kernel
with stride 2; :func:`macs` counts it.

Depthwise layers (one input and one output channel per group) have nothing to multiply in
a matrix product; they take the same phase/tap loop as broadcast multiply-adds instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .._checks import ConvParams
from . import _blas


def phase_taps(r: int, k: int, s: int, d: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    """Taps ``t`` reaching output phase ``r`` and their input offsets ``c_t``."""
    t = np.arange(k)
    num = r + lo - t * d
    keep = num % s == 0
    return t[keep], num[keep] // s


@dataclass(frozen=True)
class _Phase:
    """One output phase: ``y[..., r::s]`` has ``nq`` positions per dim and sums ``taps``."""

    r: tuple[int, ...]
    nq: tuple[int, ...]
    taps: tuple[tuple[int, int], ...]        # (flat tap index into prod(K), flat input offset)
    length: int                              # L: flat positions of the padded grid computed


@dataclass(frozen=True)
class _Plan:
    padded: tuple[int, ...]                  # S_pad = S_in + gap, per spatial dim
    front: int                               # zeros before the first image in X
    total: int                               # row length of X
    phases: tuple[_Phase, ...]               # phases with at least one tap
    complete: bool                           # every output position has a tap


def _plan(n: int, size: tuple[int, ...], out: tuple[int, ...], p: ConvParams) -> _Plan:
    per_dim, gaps = [], []
    for a in range(p.ndim):
        phases = []
        for r in range(min(p.stride[a], out[a])):
            taps, offs = phase_taps(r, p.kernel[a], p.stride[a], p.dilation[a], p.pad_lo[a])
            phases.append((r, -(-(out[a] - r) // p.stride[a]), taps, offs))
        used = [ph for ph in phases if len(ph[2])]
        gap = 0
        if used:
            gap = max(0, max(-int(o.min()) for _, _, _, o in used),
                      max(nq + int(o.max()) - size[a] for _, nq, _, o in used),
                      max(nq - size[a] for _, nq, _, _ in used))
        per_dim.append(phases)
        gaps.append(gap)
    padded = tuple(s + g for s, g in zip(size, gaps))
    steps = [int(np.prod(padded[a + 1:])) for a in range(p.ndim)]
    grid = n * int(np.prod(padded))
    front = sum(max(0, -min((int(o.min()) for _, _, _, o in ph if len(o)), default=0)) * st
                for ph, st in zip(per_dim, steps))
    phases, complete, end = [], True, front + grid
    for combo in itertools.product(*per_dim):
        if any(len(taps) == 0 for _, _, taps, _ in combo):
            complete = False
            continue
        nq = tuple(c[1] for c in combo)
        length = grid - int(np.prod(padded)) + sum((q - 1) * st for q, st in zip(nq, steps)) + 1
        taps = []
        for tap in itertools.product(*(zip(t, o) for _, _, t, o in combo)):
            t_flat = int(np.ravel_multi_index(tuple(int(t) for t, _ in tap), p.kernel))
            off = sum(int(o) * st for (_, o), st in zip(tap, steps))
            taps.append((t_flat, off))
            end = max(end, front + off + length)
        phases.append(_Phase(tuple(c[0] for c in combo), nq, tuple(taps), length))
    return _Plan(padded, front, end, tuple(phases), complete)


def _padded_input(x: np.ndarray, plan: _Plan) -> np.ndarray:
    """``X (C_in, total)``: x channels-first on the zero-gapped grid, after ``front`` zeros."""
    n, c = x.shape[:2]
    grid = n * int(np.prod(plan.padded))
    big = np.zeros((c, plan.total), dtype=x.dtype)
    view = big[:, plan.front:plan.front + grid].reshape(c, n, *plan.padded)
    view[(slice(None), slice(None), *(slice(0, s) for s in x.shape[2:]))] = x.swapaxes(0, 1)
    return big


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds :func:`conv_transpose` performs: every tap of every phase over the
    padded grid (the gap positions included)."""
    n, c_in = x_shape[:2]
    if n == 0:
        return 0
    plan = _plan(n, tuple(x_shape[2:]), out, p)
    per_pos = (c_in // p.groups) * w_shape[1] * p.groups
    return sum(len(ph.taps) * ph.length for ph in plan.phases) * per_pos


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    c_out = g * cog
    plan = _plan(n, tuple(size), out, p)
    big = _padded_input(x, plan)
    # weights tap-major: wt[t] is (C_in, C_out/g) -- BLAS reads it as the transposed operand
    wt = np.ascontiguousarray(np.moveaxis(w.reshape(c_in, cog, -1), 2, 0))
    grid = n * int(np.prod(plan.padded))
    y = (np.empty if plan.complete else np.zeros)((n, c_out, *out), dtype=x.dtype)
    acc = np.empty((c_out, grid), dtype=x.dtype)
    depthwise = cig == 1 and cog == 1
    for ph in plan.phases:
        for first, (t, off) in zip(itertools.chain([True], itertools.repeat(False)), ph.taps):
            start = plan.front + off
            if depthwise:
                # one input and one output channel per group: a broadcast multiply-add
                prod = big[:, start:start + ph.length] * wt[t]          # (C, L) * (C, 1)
                if first:
                    acc[:, :ph.length] = prod
                else:
                    acc[:, :ph.length] += prod
                continue
            for gi in range(g):
                _blas.gemm_rows(acc, gi * cog * grid, grid, big,
                                gi * cig * plan.total + start, plan.total,
                                wt, t * c_in * cog + gi * cig * cog, cog,
                                rows=cog, cols=ph.length, depth=cig, accumulate=not first)
        # pixel shuffle: phase r of the padded grid -> y[..., r::s]
        res = acc.reshape(c_out, n, *plan.padded)[(slice(None), slice(None),
                                                  *(slice(0, q) for q in ph.nq))]
        y[(slice(None), slice(None), *(slice(r, None, s) for r, s in zip(ph.r, p.stride)))] = \
            res.swapaxes(0, 1)
    return y
