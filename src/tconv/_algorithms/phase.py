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
the flat index, no copy. For a block of images (and output channels), one matrix product
gives every tap's contribution at every grid position, and a phase is a sum of shifted
rows of it -- contiguous 1-D adds -- stored once into its pixel-shuffled place::

    P[c, t, f] = sum_ci w[ci, c, t] X[ci, f]                 (one product per block)
    y[n, c, q*s + r] = sum_{t in taps(r)} P[c, t, f(n, q) + off_t]

Each block copies its own images onto the grid (with zeros for the halo), on its own
thread. A grouped layer whose groups each fit a block runs several whole groups a block:
one grid copy, one batched product and one pass of tap sums for all of them. With numba
(``tconv[fast]``) that copy and the tap sums are compiled passes: ``grid_copy``, and
``phase_sums``, which adds a phase's tap windows into a small buffer and
writes every output row once with its column phases interleaved (the pixel shuffle) --
faster than NumPy's adds and strided copies. Without numba, NumPy does both.

The gap positions (and a halo per block) are computed and thrown away --
``prod(S_pad) / prod(S_in)`` extra work, e.g. 13 % for 16x16 inputs and a 4x4 kernel with
stride 2; :func:`macs` counts it.

Depthwise layers (one input and one output channel per group) have nothing to multiply in
a matrix product: runs of phases that read one input offset become broadcast multiply-adds;
with a large stride (the cost model's ``subpixel_stride``) each channel is one small
"sub-pixel" product instead (:func:`_depthwise_subpixel`).
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass

import numpy as np

from .._checks import ConvParams
from . import _cost, _native, _parallel, folded
from ._im2col import flat_grid, on_grid
from ._matmul import matmul


def phase_taps(r: int, k: int, s: int, d: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    """Taps ``t`` reaching output phase ``r`` and their input offsets ``c_t``."""
    t = np.arange(k)
    num = r + lo - t * d
    keep = num % s == 0
    return t[keep], num[keep] // s


def tap_phases(k: int, s: int, d: int, lo: int, count: int) -> list[int]:
    """The output phases ``r < count`` (``count <= s``) that at least one tap reaches.

    Tap ``t`` reaches phase ``(t*d - lo) mod s`` only, so there are at most ``k`` of them:
    planning walks these, never all ``s`` phases (a stride of 10**9 has 10**9 phases)."""
    return sorted({r for r in ((t * d - lo) % s for t in range(k)) if r < count})


def all_phase_taps(k: int, s: int, d: int, lo: int) -> tuple[np.ndarray, ...]:
    """:func:`phase_taps` of every phase ``r < s`` at once, as flat arrays: phase starts
    (``s + 1``), taps and input offsets, in phase order -- O(k + s) NumPy, no loop over
    phases."""
    t = np.arange(k, dtype=np.int64)
    r = (t * d - lo) % s
    order = np.lexsort((t, r))
    t, r = t[order], r[order]
    start = np.searchsorted(r, np.arange(s + 1, dtype=np.int64)).astype(np.int64)
    return start, t, (r + lo - t * d) // s


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

    def __hash__(self) -> int:
        # plans key the caches of the paths built on them; hashing every phase's taps on
        # each lookup costs more than a small layer's sums, so the hash is kept
        h: int | None = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.padded, self.front, self.total, self.phases, self.complete))
            object.__setattr__(self, "_hash", h)
        return h


def _dims(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams
          ) -> tuple[list[list[tuple[int, int, np.ndarray, np.ndarray]]], list[int], bool]:
    """Per spatial dim: ``(r, nq, taps, offsets)`` of every phase that has taps, the zero gap
    needed after each row so that every tap's window stays inside its own row or the gap,
    and whether every output phase has a tap."""
    per_dim, gaps, complete = [], [], True
    for a in range(p.ndim):
        phases = []
        count = min(p.stride[a], out[a])
        rs = tap_phases(p.kernel[a], p.stride[a], p.dilation[a], p.pad_lo[a], count)
        complete = complete and len(rs) == count
        for r in rs:
            taps, offs = phase_taps(r, p.kernel[a], p.stride[a], p.dilation[a], p.pad_lo[a])
            phases.append((r, -(-(out[a] - r) // p.stride[a]), taps, offs))
        used = phases
        gap = 0
        if used:
            gap = max(0, max(-int(o.min()) for _, _, _, o in used),
                      max(nq + int(o.max()) - size[a] for _, nq, _, o in used),
                      max(nq - size[a] for _, nq, _, _ in used))
        per_dim.append(phases)
        gaps.append(gap)
    return per_dim, gaps, complete


def grid_overhead(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams) -> float:
    """``prod(S_pad) / prod(S_in)``: the extra products the zero gap costs (before halos)."""
    _, gaps, _ = _dims(size, out, p)
    return math.prod((s + g) / s for s, g in zip(size, gaps))


def _plan(n: int, size: tuple[int, ...], out: tuple[int, ...], p: ConvParams,
          list_phases: bool = True) -> _Plan:
    per_dim, gaps, complete = _dims(size, out, p)
    padded = tuple(s + g for s, g in zip(size, gaps))
    steps = [int(np.prod(padded[a + 1:])) for a in range(p.ndim)]
    grid = n * int(np.prod(padded))
    front = sum(max(0, -min((int(o.min()) for _, _, _, o in ph if len(o)), default=0)) * st
                for ph, st in zip(per_dim, steps))
    if not list_phases:  # the geometry only (the depthwise path walks runs of phases)
        used = [[o for _, _, t, o in ph if len(t)] for ph in per_dim]
        reach = sum(max(int(o.max()) for o in u) * st for u, st in zip(used, steps)) \
            if all(used) else 0
        return _Plan(padded, front, front + grid + max(reach, 0), (), complete)
    phases, end = [], front + grid
    k_steps = [math.prod(p.kernel[a + 1:]) for a in range(p.ndim)]
    image = math.prod(padded)
    as_ints = [[(r, nq, [int(v) for v in t], [int(v) for v in o]) for r, nq, t, o in ph]
               for ph in per_dim]
    for combo in itertools.product(*as_ints):
        nq = tuple(c[1] for c in combo)
        length = grid - image + sum((q - 1) * st for q, st in zip(nq, steps)) + 1
        # flat tap index and flat input offset of every tap combination of this phase
        taps = [(0, 0)]
        for a, (_, _, t, o) in enumerate(combo):
            taps = [(tf + ti * k_steps[a], of + oi * steps[a])
                    for tf, of in taps for ti, oi in zip(t, o)]
        end = max(end, front + grid + max(of for _, of in taps))
        phases.append(_Phase(tuple(c[0] for c in combo), nq, tuple(taps), length))
    return _Plan(padded, front, end, tuple(phases), complete)


@_parallel.cached(maxsize=128)
def cached_plan(n: int, size: tuple[int, ...], out: tuple[int, ...], p: ConvParams,
         list_phases: bool = True) -> _Plan:
    """:func:`_plan`, remembered: a layer called again with the same shapes re-uses it."""
    return _plan(n, size, out, p, list_phases)


def _padded_input(x: np.ndarray, plan: _Plan) -> np.ndarray:
    """``X (C_in, total)``: x channels-first on the zero-gapped grid, after ``front`` zeros."""
    return on_grid(x, plan.padded, plan.front, np.empty((x.shape[1], plan.total), x.dtype))


def _blocks(n: int, cog: int, rows_per_channel: int, image: int, depth: int = 1,
            groups: int = 1) -> list[tuple[int, int, int, int]]:
    """``(n0, n1, c0, c1)`` blocks of one group: whole images, and output channels if one
    image is big, so that a block's products hold about ``BLOCK_ELEMENTS`` numbers. Images
    are cut for the pool's threads (``groups`` blocks alongside) only where the blocks run
    on the pool: products of ``depth`` terms that BLAS threads run in order anyway."""
    per_channel_image = rows_per_channel * image
    if cog * per_channel_image <= BLOCK_ELEMENTS:
        most = BLOCK_ELEMENTS // (cog * per_channel_image)
        threaded = _parallel.in_order(cog * per_channel_image * depth * min(n, most))
        nb, cb = _parallel.even_split(n, most, groups, pool=not threaded), cog
    else:
        nb, cb = 1, max(1, min(cog, BLOCK_ELEMENTS // per_channel_image))
    return [(n0, min(n, n0 + nb), c0, min(cog, c0 + cb))
            for n0 in range(0, n, nb) for c0 in range(0, cog, cb)]


#: fold the phases into one product's columns where the cost model says so
#: (:func:`tconv._algorithms._cost.folded`); False: never (``benchmarks/calibrate.py`` times
#: the unfolded path with it)
FOLD = True

#: copy each block onto the grid and sum the phases' taps into ``y`` in compiled passes
#: (numba), not in NumPy assignments, adds and strided copies; False: the NumPy path
COMPILED_SUMS = True

#: numbers in one block's products (4 MiB of float32: stays in a last-level cache)
BLOCK_ELEMENTS = 1 << 20


def _span(plan: _Plan, n0: int, n1: int) -> tuple[int, int]:
    """Columns of X whose products block ``n0:n1`` reads: its grid positions plus a halo --
    and at least the block's own images, which each block copies whole onto its grid (when
    every tap's offset is positive or every one negative, e.g. a padding that crops the
    first inputs, the windows alone would leave part of an image outside the buffer)."""
    image = int(np.prod(plan.padded))
    offs = [off for ph in plan.phases for _, off in ph.taps]
    return (plan.front + n0 * image + min(0, min(offs)),
            plan.front + n1 * image + max(0, max(offs)))


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds :func:`conv_transpose` performs: every tap over the zero-gapped grid of
    each block of images (and its halo); depthwise: every tap of every phase over the grid."""
    n, c_in = x_shape[:2]
    if n == 0:
        return 0
    cig, cog, ntap = c_in // p.groups, w_shape[1], int(np.prod(w_shape[2:]))
    if cig == 1 and cog == 1 and all(d == 1 for d in p.dilation) \
            and p.stride[-1] >= _cost.constants().subpixel_stride:
        nq, groups = _subpixel_plan(tuple(x_shape), p, out)
        per_channel = sum(math.prod(mc * (r1 - r0) for r0, r1, _, mc in combo)
                          for combo in itertools.product(*groups))
        return per_channel * n * math.prod(nq) * c_in
    if cig == 1 and cog == 1 and all(d == 1 for d in p.dilation):
        plan = _plan(n, tuple(x_shape[2:]), out, p, list_phases=False)
        grid = n * math.prod(plan.padded)
        runs = [_dim_runs(out[a], p.kernel[a], p.stride[a], p.pad_lo[a])[0]
                for a in range(p.ndim)]
        per_grid = sum(math.prod(r1 - r0 for r0, r1, _, _ in combo)
                       for combo in itertools.product(*runs))
        return per_grid * grid * c_in
    if FOLD and _cost.decide(tuple(x_shape), tuple(w_shape), p).folded:
        return folded.macs(tuple(x_shape), tuple(w_shape), p)
    plan = _plan(n, tuple(x_shape[2:]), out, p)
    if cig == 1 and cog == 1:
        return sum(len(ph.taps) * ph.length for ph in plan.phases) * p.groups
    total = 0
    for n0, n1, c0, c1 in _blocks(n, cog, ntap, int(np.prod(plan.padded)), cig, p.groups):
        lo, hi = _span(plan, n0, n1)
        total += (c1 - c0) * ntap * cig * (hi - lo)
    return total * p.groups


#: grouped layers whose groups each fit one block run several groups a block (``False``:
#: a block a group, for A/B checks)
PHASE_GROUPS_TOGETHER = True


@_native.guarded()
def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    if FOLD and _cost.decide(x.shape, w.shape, p, x.dtype).folded:
        return folded.conv_transpose(x, w, p, out)
    depthwise = cig == 1 and cog == 1 and all(d == 1 for d in p.dilation)
    plan = cached_plan(n, tuple(size), out, p, not depthwise)
    y = (np.empty if plan.complete else np.zeros)((n, g * cog, *out), dtype=x.dtype)
    if depthwise and p.stride[-1] >= _cost.constants().subpixel_stride:
        return _depthwise_subpixel(x, w, p, y)
    if depthwise:
        return _depthwise(_padded_input(x, plan), w, p, plan, y)
    if not plan.phases:
        return y
    if cig == 1 and cog == 1:
        return _depthwise_phases(_padded_input(x, plan), w, p, plan, y)
    ntap, image = int(np.prod(p.kernel)), int(np.prod(plan.padded))
    wr = w.reshape(g, cig, cog * ntap).transpose(0, 2, 1)     # (g, Cog*prodK, Cig) view
    compiled = COMPILED_SUMS and _native.available() and x.dtype in (np.float32, np.float64)
    per_group = _blocks(n, cog, ntap, image, cig, g)
    gb = 1
    if PHASE_GROUPS_TOGETHER and g > 1 and per_group == [(0, n, 0, cog)]:
        # whole groups fit a block: several groups a block, one grid copy, one batched
        # product and one pass of tap sums (compiled, or one NumPy add a phase and tap) for
        # all of them (small grouped layers spend their time in the per-call overhead of
        # those calls)
        lo, hi = _span(plan, 0, n)
        gb = _parallel.even_split(g, BLOCK_ELEMENTS // (cog * ntap * (hi - lo)))
    blocks = [(g0, min(g, g0 + gb), *b) for g0 in range(0, g, gb) for b in per_group]
    if compiled:
        sums, copy = _native.kernels()["phase_sums"], _native.kernels()["grid_copy"]
        row_off = _grid_rows(tuple(size), plan.padded)
        tables = _sum_tables(tuple(size), out, p)
        yflat = y.reshape(-1)
        ystep_c = math.prod(out)

    # the images (and groups) each thread last copied onto its grid: blocks of one image's
    # output channels follow each other and read the same grid (a large image's channels
    # come in several blocks; copying the image again for each cost as much as its sums)
    on_grid_now: dict[int, tuple[int, int, int, int]] = {}

    def run(block: tuple[int, int, int, int, int, int]) -> None:
        gi, g1, n0, n1, c0, c1 = block        # groups gi:g1 (several: whole groups, c0 = 0)
        lo, hi = _span(plan, n0, n1)
        cb, length = c1 - c0, (n1 - n0) * image
        base = plan.front + n0 * image - lo
        if base < 0 or base + (n1 - n0) * image > hi - lo:     # the kernels do not check
            raise AssertionError(f"phase: block {block} outside its grid buffer")
        # the block's columns of X: its images on the zero-gapped grid after base zeros, and
        # zeros after them (kept outputs never read the next image), copied by this thread
        xb = _parallel.scratch("grid", (g1 - gi) * cig * (hi - lo), x.dtype).reshape(
            (g1 - gi) * cig, hi - lo)
        thread, images = threading.get_ident(), (gi, g1, n0, n1)
        if on_grid_now.get(thread) != images:
            xs = x[n0:n1, gi * cig:g1 * cig]
            if compiled:
                copy(xs.reshape(n1 - n0, (g1 - gi) * cig, -1, size[-1]), xb, base, image,
                     row_off)
            else:
                on_grid(xs, plan.padded, base, xb)
            on_grid_now[thread] = images
        # products of every tap over the block: P[c, t, f] = sum_ci w[ci, c, t] X[ci, f]
        prod = _parallel.scratch("prod", (g1 - gi) * cb * ntap * (hi - lo), x.dtype).reshape(
            (g1 - gi) * cb * ntap, hi - lo)
        if g1 - gi == 1:
            matmul(wr[gi, c0 * ntap:c1 * ntap], xb, out=prod)
        else:
            matmul(wr[gi:g1], xb.reshape(g1 - gi, cig, hi - lo),
                   out=prod.reshape(g1 - gi, cb * ntap, hi - lo))
        if compiled:
            # each phase's taps summed in one pass, each output row written once
            tmp = _parallel.scratch("acc", tables[-1] * length, x.dtype).reshape(-1, length)
            sums(prod, ntap, base, image, n1 - n0, *tables[:-1], p.kernel[-1], yflat,
                 (n0 * g * cog + gi * cog + c0) * ystep_c, g * cog * ystep_c, ystep_c,
                 out[-1], tmp)
            return
        # rows (group, channel) of the block: output channels gi*cog + c0 ... on
        rows = (g1 - gi) * cb
        prod3 = prod.reshape(rows, ntap, hi - lo)
        acc = _parallel.scratch("acc", rows * length, x.dtype).reshape(rows, length)
        for ph in plan.phases:
            # a phase sums its taps' products, each shifted by its flat input offset
            srcs = [prod3[:, t, base + off:base + off + length] for t, off in ph.taps]
            if len(srcs) == 1:                   # one tap (e.g. kernel = stride): no sum
                total = srcs[0]
            else:
                total = np.add(srcs[0], srcs[1], out=acc)
                for src in srcs[2:]:
                    total += src
            res = total.reshape(rows, n1 - n0, *plan.padded)[
                (slice(None), slice(None), *(slice(0, q) for q in ph.nq))]
            y[(slice(n0, n1), slice(gi * cog + c0, gi * cog + c0 + rows),
               *(slice(r, None, s) for r, s in zip(ph.r, p.stride)))] = res.swapaxes(0, 1)

    big = max((_parallel.blas_product((c1 - c0) * ntap, cig, (n1 - n0) * image)
               for _, _, n0, n1, c0, c1 in blocks), default=0)
    _parallel.for_each(run, blocks, blas_macs=big)
    return y


@_parallel.cached(maxsize=128)
def _grid_rows(size: tuple[int, ...], padded: tuple[int, ...]) -> np.ndarray:
    """Flat offset on the zero-gapped grid of every input row (leading dims, C order)."""
    return flat_grid(size[:-1], [math.prod(padded[a + 1:]) for a in range(len(size) - 1)]
                     ).reshape(-1)


@_parallel.cached(maxsize=128)
def _sum_tables(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams) -> tuple:
    """The arrays :func:`phase_sums <tconv._algorithms._native_kernels.phase_sums>` reads:
    per phase of the leading dims its taps (flat leading tap index, flat grid offset) and its
    output rows (flat leading output row, flat grid offset of the row's first position);
    per phase of the last dim its taps (tap, offset) and output count; then the number of
    last-dim phases (``tmp``'s rows)."""
    per_dim, gaps, _ = _dims(size, out, p)
    padded = [s + g for s, g in zip(size, gaps)]
    steps = [math.prod(padded[a + 1:]) for a in range(p.ndim)]
    lead = range(p.ndim - 1)
    k_steps = [math.prod(p.kernel[a + 1:-1]) for a in lead]
    o_steps = [math.prod(out[a + 1:-1]) for a in lead]
    lead_start, lead_t, lead_off, row_start, row_out, row_src = [0], [], [], [0], [], []
    for combo in itertools.product(*(per_dim[a] for a in lead)):
        if all(len(t) for _, _, t, _ in combo):
            for pairs in itertools.product(*(zip(t, o) for _, _, t, o in combo)):
                lead_t.append(sum(int(t) * k for (t, _), k in zip(pairs, k_steps)))
                lead_off.append(sum(int(o) * st for (_, o), st in zip(pairs, steps)))
            for qs in itertools.product(*(range(nq) for _, nq, _, _ in combo)):
                row_out.append(sum((q * s + r) * st for q, (r, _, _, _), s, st
                                   in zip(qs, combo, p.stride, o_steps)))
                row_src.append(sum(q * st for q, st in zip(qs, steps)))
        lead_start.append(len(lead_t))
        row_start.append(len(row_out))
    # the last dim's tables run over all its phases (the kernel indexes them by phase),
    # built without a loop over the phases that have no taps
    sx = min(p.stride[-1], out[-1])
    xstart, xk, xoff = all_phase_taps(p.kernel[-1], p.stride[-1], p.dilation[-1],
                                      p.pad_lo[-1])
    xstart = xstart[:sx + 1]
    xk, xoff = xk[:xstart[-1]], xoff[:xstart[-1]]
    nqx = -(-(out[-1] - np.arange(sx, dtype=np.int64)) // p.stride[-1])
    ints = [np.asarray(v, dtype=np.int64) for v in (
        lead_start, lead_t, lead_off, row_start, row_out, row_src, xstart, xk, xoff, nqx)]
    return (*ints, sx)


def _dim_runs(out: int, k: int, s: int, lo: int
              ) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int]]]:
    """Per spatial dim (dilation 1): tap runs and copy-out ranges of the depthwise path.

    Phase ``r`` uses taps ``t = t0(r) + m*s`` at input offset ``b(r) - m`` with
    ``b(r) = (r + lo) // s`` and ``t0(r) = (r + lo) % s``. A run ``(r0, r1, t_start, offset)``
    is a range of consecutive phases reading one input offset with consecutive taps
    (``t = t_start + r - r0``); a copy range ``(r0, r1, nq)`` groups phases with the same
    number of outputs.
    """
    runs: list[list[int]] = []
    open_runs: dict[int, list[int]] = {}
    for r in tap_phases(k, s, 1, lo, min(s, out)):
        b, t0 = divmod(r + lo, s)
        for m in range(-(-(k - t0) // s)):
            t, off = t0 + m * s, b - m
            run = open_runs.get(off)
            if run is not None and run[1] == r and run[2] + r - run[0] == t:
                run[1] = r + 1
            else:
                open_runs[off] = run = [r, r + 1, t, off]
                runs.append(run)
    copies: list[tuple[int, int, int]] = []
    for r in sorted({r for r0, r1, *_ in runs for r in range(r0, r1)}):
        nq = -(-(out - r) // s)
        if copies and copies[-1][1] == r and copies[-1][2] == nq:
            copies[-1] = (copies[-1][0], r + 1, nq)
        else:
            copies.append((r, r + 1, nq))
    return [(r0, r1, t, o) for r0, r1, t, o in runs], copies


def _subpixel_groups(k: int, s: int, lo: int, out: int) -> list[tuple[int, int, int, int]]:
    """Per dim: ``(r0, r1, b, m_count)`` -- phases ``r0 <= r < r1`` share ``b = (r+lo)//s``,
    so phase ``r`` reads input ``q + b - m`` with tap ``(r + lo) % s + m*s`` (if ``< k``)."""
    groups: list[list[int]] = []
    for r in tap_phases(k, s, 1, lo, min(s, out)):
        b, t0 = divmod(r + lo, s)
        m = -(-(k - t0) // s)
        if groups and groups[-1][2] == b:
            groups[-1][1] = r + 1
            groups[-1][3] = max(groups[-1][3], m)
        else:
            groups.append([r, r + 1, b, m])
    return [(r0, r1, b, m) for r0, r1, b, m in groups if m > 0]


def _subpixel_plan(x_shape: tuple[int, ...], p: ConvParams, out: tuple[int, ...]
                   ) -> tuple[list[int], list[list[tuple[int, int, int, int]]]]:
    nq = [-(-o // s) for o, s in zip(out, p.stride)]
    groups = [_subpixel_groups(p.kernel[a], p.stride[a], p.pad_lo[a], out[a])
              for a in range(p.ndim)]
    return nq, groups


def _depthwise_subpixel(x: np.ndarray, w: np.ndarray, p: ConvParams, y: np.ndarray
                        ) -> np.ndarray:
    """Depthwise, dilation 1, large stride: sub-pixel products per channel.

    Phases sharing ``b = (r + lo) // stride`` (at most two ranges per dim) read the inputs
    ``q + b - m`` for ``m < ceil(K / stride)``. For each such range of phases, per channel::

        Y[(n, q), r] = sum_m  X[(n, q), m] * W[m, r]     X: shifted inputs, W: their taps

    a product of depth ``prod(ceil(K/stride))`` with ``prod(stride)``-wide rows (FCN x32:
    1024), then one copy into ``y`` viewed as ``(N, C, Q1, s1, Q2, s2, ...)``.
    """
    n, c, *size = x.shape
    nd = p.ndim
    out = y.shape[2:]
    nq, groups = _subpixel_plan(x.shape, p, out)
    full = tuple(q * s for q, s in zip(nq, p.stride))
    yf = y if full == tuple(out) else np.zeros((n, c, *full), dtype=y.dtype)
    y6 = yf.reshape(n, c, *[v for q, s in zip(nq, p.stride) for v in (q, s)])
    # input padded so that every shift q + b - m (q < nq) is inside
    offs = [[b - m for _, _, b, mc in g for m in range(mc)] for g in groups]
    pads = [(max(0, -min(o)), max(0, q - 1 + max(o) - (sz - 1))) if o else (0, 0)
            for o, q, sz in zip(offs, nq, size)]
    xp = np.pad(x, [(0, 0), (0, 0), *pads])
    wk = w.reshape(c, *p.kernel)
    nqt = n * math.prod(nq)
    cb = max(1, min(c, BLOCK_ELEMENTS // max(1, nqt * math.prod(p.stride))))

    def run(c0: int) -> None:
        c1 = min(c, c0 + cb)
        for combo in itertools.product(*groups):
            ms = [mc for _, _, _, mc in combo]
            rs = [r1 - r0 for r0, r1, _, _ in combo]
            depth, width = math.prod(ms), math.prod(rs)
            # X[c, (n, q), m]: the input shifted by b - m per dim
            xs = _parallel.scratch("xs", (c1 - c0) * nqt * depth, x.dtype).reshape(
                c1 - c0, n, *nq, *ms)
            ws = _parallel.scratch("ws", (c1 - c0) * depth * width, x.dtype).reshape(
                c1 - c0, *ms, *rs)
            ws.fill(0)
            for m in itertools.product(*(range(mc) for mc in ms)):
                src = xp[(slice(None), slice(c0, c1), *[
                    slice(pd + b - mi, pd + b - mi + q)
                    for (pd, _), (_, _, b, _), mi, q in zip(pads, combo, m, nq)])]
                xs[(slice(None), slice(None), *[slice(None)] * nd, *m)] = src.swapaxes(0, 1)
                # taps (r + lo) % s + m*s for r in the range, those < K
                sl_w, sl_r = [], []
                for a, ((r0, r1, b, _), mi) in enumerate(zip(combo, m)):
                    t_first = r0 + p.pad_lo[a] - b * p.stride[a] + mi * p.stride[a]
                    count = max(0, min(r1 - r0, p.kernel[a] - t_first))
                    sl_w.append(slice(t_first, t_first + count))
                    sl_r.append(slice(0, count))
                ws[(slice(None), *m, *sl_r)] = wk[(slice(c0, c1), *sl_w)]
            prod = _parallel.scratch("prod", (c1 - c0) * nqt * width, x.dtype).reshape(
                c1 - c0, nqt, width)
            matmul(xs.reshape(c1 - c0, nqt, depth), ws.reshape(c1 - c0, depth, width),
                      out=prod)
            # (Cb, N, *Q, *R) -> y6[n, c, q1, r1, q2, r2, ...]
            res = prod.reshape(c1 - c0, n, *nq, *rs).transpose(
                1, 0, *[v for a in range(nd) for v in (2 + a, 2 + nd + a)])
            y6[(slice(None), slice(c0, c1), *[v for (r0, r1, _, _) in combo
                                              for v in (slice(None), slice(r0, r1))])] = res

    _parallel.for_each(run, range(0, c, cb))
    if yf is not y:
        y[...] = yf[(slice(None), slice(None), *(slice(0, o) for o in out))]
    return y


def _depthwise(big: np.ndarray, w: np.ndarray, p: ConvParams, plan: _Plan, y: np.ndarray,
               ) -> np.ndarray:
    """One input and one output channel per group: broadcast multiply-adds, no product.

    With dilation 1 the phases are handled in runs: all phases of a run read the same input
    window, so one broadcast ``acc[c, R1, R2, f] += w[c, T1, T2] * X[c, f + off]`` covers
    them (``prod(ceil(K/stride))`` to ``2**ndim`` times that many operations, not one per
    phase and tap). Otherwise phase by phase.
    """
    c, n = big.shape[0], y.shape[0]
    grid = n * int(np.prod(plan.padded))
    steps = [int(np.prod(plan.padded[a + 1:])) for a in range(p.ndim)]
    per_dim = [_dim_runs(y.shape[2 + a], p.kernel[a], p.stride[a], p.pad_lo[a])
               for a in range(p.ndim)]
    wk = w.reshape(c, *p.kernel)
    per_channel = int(np.prod(p.stride)) * grid
    cb = max(1, min(c, BLOCK_ELEMENTS // 4 // per_channel))

    def run(c0: int) -> None:
        c1 = min(c, c0 + cb)
        acc = _parallel.scratch("acc", (c1 - c0) * per_channel, big.dtype)
        acc = acc.reshape(c1 - c0, *p.stride, grid)
        acc.fill(0)
        for combo in itertools.product(*(runs for runs, _ in per_dim)):
            off = plan.front + sum(o * st for (_, _, _, o), st in zip(combo, steps))
            rs = tuple(slice(r0, r1) for r0, r1, _, _ in combo)
            ts = tuple(slice(t, t + r1 - r0) for r0, r1, t, _ in combo)
            window = big[c0:c1, off:off + grid]
            dst = acc[(slice(None), *rs)]                        # (Cb, *R, grid)
            term = _parallel.scratch("term", dst.size, big.dtype).reshape(dst.shape)
            np.multiply(wk[(slice(c0, c1), *ts, None)],
                        window[(slice(None), *(None,) * p.ndim)], out=term)
            dst += term
        # copy out: acc[c, r..., n, q...] -> y[n, c, q*s + r] for each equal-nq range
        acc_g = acc.reshape(c1 - c0, *p.stride, n, *plan.padded)
        for block in itertools.product(*(copies for _, copies in per_dim)):
            _copy_phases(acc_g, block, y[:, c0:c1], p.stride)

    _parallel.for_each(run, range(0, c, cb))
    return y


def _copy_phases(acc: np.ndarray, block: tuple[tuple[int, int, int], ...], y: np.ndarray,
                 stride: tuple[int, ...]) -> None:
    """``y[n, c, q*s + r] = acc[c, r..., n, q...]`` for the phases ``r0 <= r < r1`` and
    outputs ``q < nq`` of each dim of ``block``.

    One copy with the last dim's phases interleaved runs NumPy's inner loop over those
    phases (``r1 - r0`` numbers); a copy for each of them, over the last dim's outputs
    (``nq``). The longer inner loop is taken: copies of 2 to 4 numbers an inner loop run
    several times slower.
    """
    nd = len(stride)
    r0, r1, nq = block[-1]
    lasts = [block] if nq <= r1 - r0 else [(*block[:-1], (r, r + 1, nq)) for r in range(r0, r1)]
    order = (nd + 1, 0, *[v for a in range(nd) for v in (nd + 2 + a, 1 + a)])
    for part in lasts:
        src = acc[(slice(None), *(slice(a, b) for a, b, _ in part), slice(None),
                   *(slice(0, q) for _, _, q in part))]
        _phase_block_view(y, part, stride)[...] = src.transpose(order)


def _phase_block_view(y: np.ndarray, combo: tuple[tuple[int, int, int], ...],
                      stride: tuple[int, ...]) -> np.ndarray:
    """Writable view ``(N, C, q1, r1, q2, r2, ...)`` of ``y[n, c, q*s + r0 + r]``."""
    shape, strides = list(y.shape[:2]), list(y.strides[:2])
    for a, (r0, r1, nq) in enumerate(combo):
        shape += [nq, r1 - r0]
        strides += [y.strides[2 + a] * stride[a], y.strides[2 + a]]
    base = y[(slice(None), slice(None), *(slice(r0, None) for r0, _, _ in combo))]
    return np.lib.stride_tricks.as_strided(base, shape, strides, writeable=True)


def _depthwise_phases(big: np.ndarray, w: np.ndarray, p: ConvParams, plan: _Plan,
                      y: np.ndarray) -> np.ndarray:
    """Depthwise, phase by phase and tap by tap (any dilation)."""
    c = big.shape[0]
    n = y.shape[0]
    wt = w.reshape(c, -1)                                       # (C, prodK)
    acc = np.empty((c, n * int(np.prod(plan.padded))), dtype=big.dtype)
    for ph in plan.phases:
        for i, (t, off) in enumerate(ph.taps):
            start = plan.front + off
            term = big[:, start:start + ph.length] * wt[:, t:t + 1]     # (C, L) * (C, 1)
            if i == 0:
                acc[:, :ph.length] = term
            else:
                acc[:, :ph.length] += term
        res = acc.reshape(c, n, *plan.padded)[(slice(None), slice(None),
                                               *(slice(0, q) for q in ph.nq))]
        y[(slice(None), slice(None), *(slice(r, None, s) for r, s in zip(ph.r, p.stride)))] = \
            res.swapaxes(0, 1)
    return y
