"""conv_transpose and its gradients as compiled implicit matrix products (numba extra).

Forward: the sub-pixel phases of :mod:`tconv._algorithms.phase`, on the same zero-gapped
grid ``X (C_in, total)``, but each phase is one compiled loop over its own taps only::

    y[n, c, q*s + r] = sum_{ci, t in taps(r)} w[ci, c, t] * X[ci, f(n, q) + off_t]

-- the useful multiplies (plus the gap), no ``C_out * prod(K)`` product planes to sum.
float32 layers on AVX-512 run it in register blocks, each conv group its own product:
over row segments of 16 outputs where rows are long enough (``igemm_segs``: no gap columns
at all; the phases that differ only along the last dim are stored interleaved, each output
written once), else over the flat grid 32 columns at a time (``igemm_tiles``).

Backward (the gradient identities of :mod:`tconv.grad`): ``grad_x`` is the strided conv of
``grad_y``, and ``grad_w`` correlates ``x`` with ``grad_y``. Both read ``grad_y`` padded and
split into its ``prod(stride)`` polyphase planes on the input's grid, pitch ``P``::

    G[c, r, n, u] = grad_y_pad[n, c, u*s + r]        (per dim; u < P = S_in + max off)
    tap t reads plane (t*d) % s at flat offset sum_a ((t_a*d_a) // s_a) * pitch_a

    grad_x[n, ci, i]  = sum_{co, t} w[ci, co, t] * G[co, r_t, (n, i) + off_t]   (igemm)
    grad_w[ci, co, t] = sum_{n, i} x[n, ci, i] * G[co, r_t, (n, i) + off_t]     (wdots)

so a stride-2 conv costs no im2col copy and no strided loads.

Depthwise 2-D layers with column stride 2 and at most two kernel rows and columns an
output (FCN's x2 bilinear up-sampler, U-Net's depthwise k2 s2) skip the grid: one compiled
pass reads ``x`` padded in place and writes every row of ``y`` once, both column phases
interleaved (:func:`_depthwise2d`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._checks import ConvParams
from . import _cost, _native, _parallel, depthwise, phase
from ._im2col import conv_gemm, on_grid

__all__ = ["available", "preferred", "conv_transpose", "macs", "planes", "grad_input",
           "grad_weight", "segments_preferred"]

available = _native.available


def preferred(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
              dtype: np.typing.DTypeLike | None = None) -> bool:
    """Whether the compiled loops run this layer's input gradient (the rule is
    :func:`tconv._algorithms._cost.compiled_loops`; the forward pass is the cost model's
    ``decide``)."""
    return _cost.compiled_loops(x_shape, w_shape, p, backward=True, dtype=dtype)


#: output columns per compiled pass (two rows of accumulators stay in L1)
CHUNK = 2048


#: multiply-adds below which a call stays on the calling thread (a pool round trip costs
#: tens of microseconds)
PARALLEL_MACS = 1 << 22


def _ranges(length: int, pieces: int, align: int = 64) -> list[tuple[int, int]]:
    """Split ``[0, length)`` into at most ``pieces`` ranges with aligned starts."""
    step = max(align, -(-length // max(pieces, 1) // align) * align)
    return [(f, min(length, f + step)) for f in range(0, length, step)]


def _zeroed(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zero-filled array in this thread's reused scratch buffer ``name``."""
    buf = _parallel.scratch(name, math.prod(shape), dtype).reshape(shape)
    buf.fill(0)
    return buf


def _on_grid(name: str, x: np.ndarray, pitch: tuple[int, ...], front: int, total: int
             ) -> np.ndarray:
    """:func:`~tconv._algorithms._im2col.on_grid` into this thread's scratch buffer ``name``
    (reused between calls: no page faults)."""
    buf = _parallel.scratch(name, x.shape[1] * total, x.dtype).reshape(x.shape[1], total)
    return on_grid(x, pitch, front, buf)


def _pieces(work: int) -> int:
    return _parallel.num_threads() if work >= PARALLEL_MACS else 1


@_parallel.cached(maxsize=64)
def _phase_terms(plan: phase._Plan, cig: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every phase's terms ``k = (ci, tap)``, phase after phase: the tap index of each term
    (to gather the weights), its plane and flat offset, where each phase starts, and each
    phase's length on the grid."""
    taps, src, off, kstart = [], [], [], [0]
    for ph in plan.phases:
        t = np.array([t for t, _ in ph.taps], dtype=np.intp)
        o = np.array([plan.front + o for _, o in ph.taps], dtype=np.int64)
        taps.append(np.tile(t, cig))
        src.append(np.repeat(np.arange(cig, dtype=np.int64), len(t)))
        off.append(np.tile(o, cig))
        kstart.append(kstart[-1] + cig * len(t))
    lengths = np.array([ph.length for ph in plan.phases], dtype=np.int64)
    return (np.concatenate(taps), np.concatenate(src), np.concatenate(off),
            np.array(kstart, dtype=np.int64), lengths)


def _terms(kstart: np.ndarray) -> np.ndarray:
    """Each phase's number of terms, from :func:`_phase_terms`' phase starts (a plain
    difference: ``np.diff``'s Python overhead shows on small calls)."""
    return kstart[1:] - kstart[:-1]


#: float32 layers run ``igemm_tiles`` (register blocks) on AVX-512 hosts
TILED = True
#: ``igemm_segs`` (row segments) where rows are long enough, else ``igemm_tiles``
SEGMENTS = True
#: columns ``igemm_segs`` may compute per column of ``igemm_tiles``' flat walk
SEGMENT_COST = 1.25
#: grid columns ``igemm_tiles`` computes before it stores them (a multiple of TILE_NR)
TILE_CHUNK = 256
#: zeros after the input grid, for the last tile's reads (at least TILE_NR - 1)
TILE_MARGIN = 32


def _channel_span(total: int, itemsize: int) -> int:
    """Numbers between consecutive channels of the input grid: at least ``total``, a whole
    odd number of cache lines. A product term reads one row of each channel, so channels
    a multiple of 4 KiB apart (long 1-D rows, large planes) would all fall into the same
    few sets of the L1 cache and evict each other; an odd number of lines spreads them
    over every set."""
    per = 64 // itemsize
    lines = -(-total // per)
    return (lines | 1) * per


def _tiles_apply(dtype: np.typing.DTypeLike, c_out: int) -> bool:
    """The register-block kernels apply (:func:`tconv._algorithms._cost.register_blocks`)."""
    return _cost.register_blocks(dtype, c_out)


def segments_preferred(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                       dtype: np.typing.DTypeLike) -> bool:
    """Whether the forward pass runs ``igemm_segs`` (the rule is
    :func:`tconv._algorithms._cost.segments`)."""
    return available() and _cost.segments(x_shape, w_shape, p, dtype)


def segments_fit(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                 min_terms: int, max_terms: int, cost: float) -> bool:
    """Every phase has ``min_terms`` to ``max_terms`` terms (outputs stored in place, a
    block's weights in L1) and the row segments compute at most ``cost`` times the columns
    of the flat walk."""
    n, c_in, *size = x_shape
    out = p.transposed_size(size)
    plan = phase.cached_plan(n, tuple(size), out, p)
    if not plan.phases or n == 0:
        return False
    from ._native import SEG_VECTORS

    terms = np.diff(_phase_terms(plan, c_in)[3])
    return (int(terms.min()) >= min_terms and int(terms.max()) <= max_terms
            and _segment_groups(plan, n, w_shape[1], out, p.stride, SEG_VECTORS,
                                cost) is not None)


@_parallel.cached(maxsize=64)
def _tile_index(plan: phase._Plan, cig: int, cog: int, ntap: int, mr: int) -> np.ndarray:
    """Where each number of the packed weights comes from in ``w (C_in, C_out, *K)`` (one
    group; ``ntap = prod(K)``) flattened, ``w.size`` for a zero: per phase and block of
    ``mr`` rows, ``[k][mr]`` over the phase's terms, zero rows past ``C_out`` and zero terms
    past the phase's."""
    taps, src, _, kstart, _ = _phase_terms(plan, cig)
    nph, nrb = len(kstart) - 1, -(-cog // mr)
    kmax = int(np.diff(kstart).max())
    idx = np.full((nph, nrb * mr, kmax), cig * cog * ntap, dtype=np.intp)
    for ph in range(nph):
        k = np.arange(kstart[ph], kstart[ph + 1])
        idx[ph, :cog, :len(k)] = (src[k] * cog * ntap + taps[k])[None, :] \
            + np.arange(cog)[:, None] * ntap
    return np.ascontiguousarray(
        idx.reshape(nph, nrb, mr, kmax).transpose(0, 1, 3, 2)).reshape(nph, nrb, kmax * mr)


def _pack_tiles(w: np.ndarray, plan: phase._Plan, mr: int, groups: int = 1) -> np.ndarray:
    """Weights ``w (C_in, C_out/g, *K)`` as the register blocks read them, ``(groups,
    phases, blocks, K*MR)``: one gather through :func:`_tile_index` (cheaper than
    zero-filled copies and a transpose); each group is its own one-group product."""
    cig, cog = w.shape[0] // groups, w.shape[1]
    idx = _tile_index(plan, cig, cog, math.prod(w.shape[2:]), mr)
    wz = np.concatenate([w.reshape(groups, -1), np.zeros((groups, 1), w.dtype)], axis=1)
    return np.ascontiguousarray(wz[:, idx])            # the kernels read raw addresses


@_parallel.cached(maxsize=64)
def _segment_groups(plan: phase._Plan, n: int, c_out: int, out: tuple[int, ...],
                    stride: tuple[int, ...], vectors: int, cost: float
                    ) -> tuple[np.ndarray, ...] | None:
    """``igemm_segs``' tables for conv_transpose: the output rows of every family of phases
    (phases that differ only in their last-dim offset, stored interleaved) cut into
    segments (:func:`_segments`); ``None`` where the segments would compute more than
    ``cost`` times the columns of ``igemm_tiles``' flat walk over the grid (rows much
    shorter than 16)."""
    rowbase, valid = _phase_rows(plan, n, c_out, out, stride)
    phases = plan.phases
    fams, i = [], 0
    while i < len(phases):                  # itertools.product order: last dim fastest
        j = i + 1
        while j < len(phases) and phases[j].r[:-1] == phases[i].r[:-1]:
            j += 1
        fams.append((i, j - i))
        i = j
    rofs = np.array([ph.r[-1] for ph in phases], dtype=np.int64)
    for f0, f in fams:
        rofs[f0:f0 + f] -= rofs[f0]
    return _segments(rowbase, valid, tuple(fams), rofs, plan.padded[-1], stride[-1], vectors,
                     cost * sum(ph.length for ph in phases))


def _segments(rowbase: np.ndarray, valid: np.ndarray, fams: tuple[tuple[int, int], ...],
              rofs: np.ndarray, pitch: int, colstride: int, vectors: int, limit: float
              ) -> tuple[np.ndarray, ...] | None:
    """Grid rows (``rowbase[ph, q] >= 0``: where row ``q`` of phase ``ph`` starts in the
    output; ``valid[ph]`` positions a row) cut into segments of 16 positions, ``vectors``
    segments a group, groups in grid order; ``None`` if more than ``limit`` columns would
    be computed. Returns ``(gph, gF, gstart, gcount, gdst, rofs)``: a group's first phase
    and family size, its segments' first grid columns, positions per phase and segment,
    and where in the output each segment's first phase starts; each phase's offset in its
    family (``fams``: first phase and size of each)."""
    lanes = 16
    fmax = max(f for _, f in fams)
    parts, computed = [], 0
    for f0, F in fams:
        rows = np.flatnonzero(rowbase[f0] >= 0)
        if not len(rows):
            continue
        t = np.arange(0, int(valid[f0:f0 + F].max()), lanes, dtype=np.int64)
        start = (rows[:, None] * pitch + t).reshape(-1)
        dst = (rowbase[f0, rows][:, None] + t * colstride).reshape(-1)
        count = np.zeros((len(start), fmax), dtype=np.int64)
        count[:, :F] = np.tile(np.clip(valid[f0:f0 + F][None, :] - t[:, None], 0, lanes),
                               (len(rows), 1))
        pad = -len(start) % vectors       # a last group's spare segments store nothing
        start = np.concatenate([start, np.full(pad, start[0])])
        dst = np.concatenate([dst, np.full(pad, dst[0])])
        count = np.concatenate([count, np.zeros((pad, fmax), dtype=np.int64)])
        computed += len(start) * lanes * F
        g = len(start) // vectors
        parts.append((np.full(g, f0), np.full(g, F), start.reshape(g, vectors),
                      count.reshape(g, vectors, fmax).transpose(0, 2, 1), dst.reshape(g, vectors)))
    if not parts or computed > limit:
        return None
    gph, gF, gstart, gcount, gdst = (np.concatenate(a) for a in zip(*parts))
    order = np.lexsort((gph, gstart[:, 0]))  # grid order: a thread's groups share input
    return (gph[order].astype(np.int64), gF[order].astype(np.int64),
            np.ascontiguousarray(gstart[order]), np.ascontiguousarray(gcount[order]),
            np.ascontiguousarray(gdst[order]), rofs)


def _run_segments(segs: tuple[np.ndarray, ...], wp: np.ndarray, inp: np.ndarray,
                  boff: np.ndarray, kstart: np.ndarray, rows: int, target: np.ndarray,
                  colstride: int, chanstride: int, parallel: bool, group_in: int = 0
                  ) -> None:
    """``igemm_segs`` over the row segments of ``segs``, split among the threads, for
    every conv group of ``wp (groups, ...)`` (:func:`_pack_tiles`; a group's input planes
    start ``group_in`` numbers after the previous group's)."""
    from ._native import SEG_VECTORS, TILE_MR

    gph, gF, gstart, gcount, gdst, rofs = segs
    kernel = _native.kernels()["igemm_segs"]
    fmax = gcount.shape[1]
    _parallel.for_each(
        lambda r: kernel(wp, inp, group_in, boff, kstart, gph, gF, gstart, gcount, gdst, rofs,
                         rows, target, colstride, chanstride, r[0], r[1],
                         _parallel.scratch("d_seg", fmax * TILE_MR * 16 * SEG_VECTORS,
                                           wp.dtype).reshape(fmax, TILE_MR, -1)),
        _ranges(len(gph), _parallel.num_threads() if parallel else 1, align=1),
        parallel=parallel)


def _numpy_forward(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    """The NumPy algorithm the cost model picks once the compiled kernels are given up."""
    from . import gemm

    algo = _cost.decide(x.shape, w.shape, p, x.dtype).algorithm
    return (gemm if algo == "gemm" else phase).conv_transpose(x, w, p, out)


def _transposed_pad(p: ConvParams) -> tuple[tuple[int, int], ...]:
    # the conv that transposes this op reads grad_out padded (low, high - output_padding)
    return tuple((lo, hi - op) for (lo, hi), op in zip(p.pad, p.output_padding))


def _numpy_grad_input(gy: np.ndarray, w: np.ndarray, p: ConvParams, size: tuple[int, ...],
                      planes: object = None) -> np.ndarray:
    return conv_gemm(gy, w, p.stride, _transposed_pad(p), p.dilation, p.groups, size)


def _numpy_grad_weight(x: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...],
                       p: ConvParams, planes: object = None) -> np.ndarray:
    from ..grad import _conv_weight_grad

    return _conv_weight_grad(x, gy, p.kernel, p.stride, _transposed_pad(p), p.dilation,
                             p.groups)


@_native.guarded(_numpy_forward)
def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    tables = _depthwise_tables(tuple(size), out, p) if cig == 1 else None
    if tables is not None and not (cog == 1 and depthwise.short_rows(x.shape, p)):
        return _depthwise2d(x, w, p, out, tables)
    if cig == 1 and cog == 1 and depthwise.preferred(x.shape, w.shape, p):
        return depthwise.conv_transpose(x, w, p, out)
    igemm = _native.kernels()["igemm"]
    plan = phase.cached_plan(n, tuple(size), out, p)
    y = (np.empty if plan.complete else np.zeros)((n, g * cog, *out), dtype=x.dtype)
    if not plan.phases:
        return y
    # X (C_in, total) as phase._padded_input, in this thread's reused buffer
    # (with TILE_MARGIN numbers after it, for igemm_tiles' last reads)
    span = _channel_span(plan.total, x.dtype.itemsize)
    flat = _parallel.scratch("d_in", c_in * span + TILE_MARGIN, x.dtype)
    big = flat[:c_in * span].reshape(c_in, span)
    # the compiled copy writes every number once (NumPy's on_grid writes the zeros too)
    _native.kernels()["grid_copy"](x.reshape(n, c_in, -1, size[-1]), big, plan.front,
                                   math.prod(plan.padded),
                                   phase._grid_rows(tuple(size), plan.padded))
    taps, src, off, kstart, lengths = _phase_terms(plan, cig)
    terms = _terms(kstart)
    work = g * cog * int(np.dot(terms, lengths))
    # each phase's outputs stored straight into their places in y (however few terms an
    # output: a buffer and NumPy's strided copies cost more, small layers and large alike)
    target, rowbase, valid = y.reshape(-1), *_phase_rows(plan, n, g * cog, out, p.stride)
    pitch, colstride, chanstride = plan.padded[-1], p.stride[-1], math.prod(out)
    ranges = _ranges(int(lengths.max()), _pieces(work))
    if _tiles_apply(x.dtype, cog):
        # float32 on AVX-512: register blocks of the compiled kernel, B read in place (the
        # kernels run every conv group: its own packed weights, planes and output rows)
        from ._native import SEG_VECTORS, TILE_MR, TILE_NR

        tiles = _native.kernels()["igemm_tiles"]
        total = big.shape[1]
        if TILE_MARGIN < TILE_NR - 1 or TILE_CHUNK % TILE_NR:
            raise AssertionError("direct: TILE_MARGIN / TILE_CHUNK do not fit TILE_NR")
        flat[big.size:] = 0                       # the margin after the grid, read, dropped
        boff = src * total + off
        wp = _pack_tiles(w, plan, TILE_MR, g)
        segs = _segment_groups(plan, n, g * cog, out, p.stride, SEG_VECTORS,
                               SEGMENT_COST) if SEGMENTS else None
        if segs is not None:
            # rows long enough: row segments, no gap columns computed
            _run_segments(segs, wp, flat, boff, kstart, cog, target, colstride, chanstride,
                          work >= PARALLEL_MACS, cig * total)
            return y
        _parallel.for_each(
            lambda r: tiles(wp, flat, cig * total, boff, kstart, lengths, cog, target, rowbase,
                            pitch, valid, colstride, chanstride, r[0], r[1],
                            _parallel.scratch("d_tile", TILE_MR * TILE_CHUNK, x.dtype
                                              ).reshape(TILE_MR, TILE_CHUNK)),
            ranges, parallel=work >= PARALLEL_MACS)
        return y
    # weights (g, Cog, terms) in term order: term k = (ci, tap), ci = src[k] in the group
    wk = np.ascontiguousarray(w.reshape(g, cig, cog, -1)[:, src, :, taps].transpose(1, 2, 0))
    # every phase of a chunk of columns in one call: the chunk's input is read once
    _parallel.for_each(
        lambda r: igemm(wk, big, src, off, kstart, lengths, cig, target, rowbase, pitch,
                        valid, colstride, chanstride, r[0], r[1], CHUNK),
        ranges, parallel=work >= PARALLEL_MACS)
    return y


#: multiply-adds (four an output) from which a depthwise layer's planes are shared among
#: the threads (below this, waking a second thread costs about what it saves)
DEPTHWISE_PARALLEL_MACS = 1 << 22


def _depthwise_taps(length: int, k: int, s: int, d: int, lo: int
                    ) -> list[list[tuple[int, int]]] | None:
    """Per output index ``o < length`` of one dim: its ``(kernel tap, input index)`` pairs
    (``o = i*s - lo + t*d``), or None when some output has more than two."""
    taps = []
    for o in range(length):
        here = [(t, (o + lo - t * d) // s) for t in range(k) if (o + lo - t * d) % s == 0]
        if len(here) > 2:
            return None
        taps.append(here)
    return taps


@_parallel.cached(maxsize=64)
def _depthwise_tables(size: tuple[int, ...], out: tuple[int, ...], p: ConvParams
                      ) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """The tables of :func:`_native_kernels.depthwise2d` for a 2-D layer with column stride
    2 whose outputs each have at most two kernel rows and two kernel columns (a kernel at
    most twice the stride), else None. (At other column strides the same loop with
    strided stores is slower than the grid loops.)

    ``rows (OH, 4)``: each output row's two input rows (``H``: the zero row) and kernel
    rows (``KH``: the zero weight row); a row outside the input takes both zeros, so nothing
    multiplies a weight that PyTorch never reads. ``cols (2, 4)``: each column phase's two
    window starts in the padded rows and kernel columns (``KW``: a missing tap, whose
    window lies in zeros after the input). Then where the input starts in the padded rows,
    and their length."""
    if p.ndim != 2 or p.stride[1] != 2:
        return None
    (h, wd), (oh, ow), (kh, kw) = size, out, p.kernel
    taps_h = _depthwise_taps(oh, kh, p.stride[0], p.dilation[0], p.pad_lo[0])
    s = p.stride[1]
    taps_w = _depthwise_taps(s, kw, s, p.dilation[1], p.pad_lo[1])
    if taps_h is None or taps_w is None:
        return None
    rows = np.array([[h, h, kh, kh]] * oh, dtype=np.int64).reshape(oh, 4)
    for o, here in enumerate(taps_h):
        for t, (tap, i) in enumerate(here):
            if 0 <= i < h:
                rows[o, t], rows[o, 2 + t] = i, tap
    # output column q + s*m reads input column m + first, first = (q + lo - t*d) // s
    firsts = [i for here in taps_w for _, i in here] or [0]
    left = max(0, -min(firsts))
    count = -(-ow // s)                                    # outputs of the longest phase
    width = max(left + wd, left + max(firsts) + count)
    cols = np.array([[width, width, kw, kw]] * s, dtype=np.int64)   # missing: zeros after x
    for q, here in enumerate(taps_w):
        for u, (tap, i) in enumerate(here):
            cols[q, u], cols[q, 2 + u] = i + left, tap
    if (cols[:, 2:] == kw).any():
        width += count
    return rows, cols, left, width


def _depthwise2d(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...],
                 tables: tuple[np.ndarray, np.ndarray, int, int]) -> np.ndarray:
    """Depthwise 2-D conv_transpose with at most 2 x 2 terms an output, in one compiled
    pass that writes ``y`` directly: no grid copy, no product buffer, no strided NumPy
    copies."""
    rows, cols, left, width = tables                    # from _depthwise_tables
    n, c_in, h, wd = x.shape
    cog = w.shape[1]
    xp = _parallel.scratch("dw_in", n * c_in * (h + 1) * width, x.dtype).reshape(
        n * c_in, h + 1, width)
    xp[:, :h, left:left + wd] = x.reshape(n * c_in, h, wd)
    xp[:, :h, :left] = 0
    xp[:, :h, left + wd:] = 0
    xp[:, h] = 0
    wz = np.zeros((c_in, cog, p.kernel[0] + 1, p.kernel[1] + 1), dtype=x.dtype)
    wz[:, :, :-1, :-1] = w
    planes = n * c_in * cog
    y = np.empty((planes, *out), dtype=x.dtype)
    kernel = _native.kernels()["depthwise2d"]
    if 4 * planes * math.prod(out) < DEPTHWISE_PARALLEL_MACS or planes == 1:
        kernel(xp, wz, y, rows, cols, cog, n, 0, planes)
    else:
        step = -(-planes // min(_parallel.num_threads(), planes))
        _parallel.for_each(lambda a: kernel(xp, wz, y, rows, cols, cog, n, a,
                                            min(a + step, planes)),
                           range(0, planes, step))
    return y.reshape(n, c_in * cog, *out)


@_parallel.cached(maxsize=64)
def _phase_rows(plan: phase._Plan, n: int, c_out: int, out: tuple[int, ...],
                stride: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Where each grid row of each phase starts in the flat ``y (N, C_out, *out)`` (-1: a
    gap row), and each phase's number of positions along the last dim."""
    lead = [n, *plan.padded[:-1]]
    idx = np.indices(lead).reshape(len(lead), -1)           # (n, u_0, ..) of every grid row
    steps = [math.prod(out[a + 1:]) for a in range(len(out))]
    rows = []
    for ph in plan.phases:
        base = idx[0] * c_out * math.prod(out) + ph.r[-1]
        ok = np.ones(idx.shape[1], dtype=bool)
        for a in range(len(out) - 1):
            base = base + (idx[a + 1] * stride[a] + ph.r[a]) * steps[a]
            ok &= idx[a + 1] < ph.nq[a]
        rows.append(np.where(ok, base, -1))
    valid = np.array([ph.nq[-1] for ph in plan.phases], dtype=np.int64)
    return np.array(rows, dtype=np.int64).reshape(len(plan.phases), -1), valid


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Every phase's taps, over the zero-gapped grid up to its last output."""
    n, c_in = x_shape[:2]
    if n == 0:
        return 0
    plan = phase.cached_plan(n, tuple(x_shape[2:]), out, p)
    cig = c_in // p.groups
    return sum(cig * len(ph.taps) * ph.length for ph in plan.phases) * p.groups * w_shape[1]


# -- gradients ------------------------------------------------------------------------------

def _reach(p: ConvParams) -> tuple[int, ...]:
    """How many input samples past its own a tap reaches, per dim: ``d*(k-1) // s``."""
    return tuple(d * (k - 1) // s for k, s, d in zip(p.kernel, p.stride, p.dilation))


def _canvas_ranges(p: ConvParams, gy_size: tuple[int, ...], full: tuple[int, ...]
                   ) -> list[tuple[int, int]]:
    """Per dim, the samples ``j0 <= j < j1`` of the canvas of ``full`` samples that hold
    ``grad_out[j - low]``: the conv that transposes this op reads ``grad_out`` padded by
    ``(low, high - output_padding)`` (negative pads crop); the rest of the canvas is zero."""
    return [(max(lo, 0), min(lo + length, lo + length + hi - op, m))
            for (lo, hi), op, length, m in zip(p.pad, p.output_padding, gy_size, full)]


def _split(gy: np.ndarray, p: ConvParams, size: tuple[int, ...]
           ) -> tuple[np.ndarray, tuple[int, ...], list[int]]:
    """``grad_out`` padded as the conv that transposes this op reads it, exactly ``s*P``
    samples a dim, viewed as ``(N, C, P_0, s_0, P_1, s_1, ...)``; the pitch ``P`` and each
    dim's reach (in input samples).

    The padded copy lives in this thread's reused buffer (``np.pad`` allocates two fresh
    arrays a call, whose first writes page-fault)."""
    n, c = gy.shape[:2]
    reach = list(_reach(p))
    pitch = tuple(i + r for i, r in zip(size, reach))
    full = tuple(s * q for s, q in zip(p.stride, pitch))
    canvas = _zeroed("d_canvas", (n, c, *full), gy.dtype)
    src, dst = [], []
    for (j0, j1), lo in zip(_canvas_ranges(p, tuple(gy.shape[2:]), full), p.pad_lo):
        src.append(slice(j0 - lo, max(j0, j1) - lo))
        dst.append(slice(j0, max(j0, j1)))
    canvas[(slice(None), slice(None), *dst)] = gy[(slice(None), slice(None), *src)]
    split = canvas.reshape(n, c, *[v for q, s in zip(pitch, p.stride) for v in (q, s)])
    return split, pitch, reach


@_parallel.cached(maxsize=64)
def _grid_taps(kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
               steps: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each tap's polyphase plane and flat offset on a grid of row ``steps``."""
    plane, off = [], []
    for t in np.ndindex(*kernel):
        shifts = [ti * d for ti, d in zip(t, dilation)]
        plane.append(int(np.ravel_multi_index([v % s for v, s in zip(shifts, stride)],
                                              stride)))
        off.append(sum((v // s) * st for v, s, st in zip(shifts, stride, steps)))
    return _frozen(plane), _frozen(off)


def _frozen(values: list[int]) -> np.ndarray:
    """A read-only int64 array (cached tables are shared between calls)."""
    a = np.array(values, dtype=np.int64)
    a.setflags(write=False)
    return a


def _planes_layout(n: int, c: int, p: ConvParams, size: tuple[int, ...]
                   ) -> tuple[tuple[int, ...], tuple[int, ...], int, int, int]:
    """The layout of :func:`planes`' ``G``: the pitch ``P``, its row steps, the tail (the
    reach past the last image), the grid's columns ``N*prod(P)`` and ``G``'s rows
    ``C_out*prod(s)``."""
    pitch = tuple(i + r for i, r in zip(size, _reach(p)))
    steps = tuple(math.prod(pitch[a + 1:]) for a in range(p.ndim))
    tail = sum(r * st for r, st in zip(_reach(p), steps))
    return pitch, steps, tail, n * math.prod(pitch), c * math.prod(p.stride)


def _planes_buffer(rows: int, cols: int, dtype: np.dtype, zeroed: bool) -> np.ndarray:
    """``G (rows, cols)`` in this thread's reused buffer, with TILE_MARGIN zeros after it
    (the register blocks read up to 15 numbers past a row); ``zeroed``: all of it zero."""
    flat = _parallel.scratch("d_planes", rows * cols + TILE_MARGIN, dtype)
    if zeroed:
        flat.fill(0)
    else:
        flat[rows * cols:] = 0
    return flat[:rows * cols].reshape(rows, cols)


def _numpy_planes(gy: np.ndarray, p: ConvParams, size: tuple[int, ...]
                  ) -> tuple[np.ndarray, tuple[int, ...], np.ndarray, np.ndarray]:
    """:func:`planes` without the compiled split: the padded canvas (:func:`_split`) split
    by one strided copy (the fallback if the kernel fails to compile)."""
    n, c = gy.shape[:2]
    nd = p.ndim
    pitch, steps, tail, grid, rows = _planes_layout(n, c, p, size)
    G = _planes_buffer(rows, grid + tail, gy.dtype, zeroed=True)
    # (C, *s, N, *P)
    perm = (1, *[3 + 2 * a for a in range(nd)], 0, *[2 + 2 * a for a in range(nd)])
    G[:, :grid].reshape(c, *p.stride, n, *pitch)[...] = _split(gy, p, size)[0].transpose(perm)
    plane, off = _grid_taps(p.kernel, p.stride, p.dilation, steps)
    return G, pitch, plane, off


#: numbers of ``G`` from which :func:`planes` shares its channels among the threads
PLANES_PARALLEL_NUMBERS = 1 << 20


@_native.guarded(_numpy_planes)
def planes(gy: np.ndarray, p: ConvParams, size: tuple[int, ...]
           ) -> tuple[np.ndarray, tuple[int, ...], np.ndarray, np.ndarray]:
    """``G (C_out*prod(s), N*prod(P) + tail)``, the pitch ``P`` and each tap's plane/offset:
    the polyphase planes of ``grad_out`` padded as the conv that transposes this op reads
    it, ``G[(c, r), (n, q)] = canvas[n, c, q*s + r]``, split by one compiled pass that reads
    ``grad_out`` once and writes every number of ``G`` once (``phase_split``)."""
    n, c = gy.shape[:2]
    pitch, steps, tail, grid, rows = _planes_layout(n, c, p, size)
    split = _native.kernels()["phase_split"]
    G = _planes_buffer(rows, grid + tail, gy.dtype, zeroed=False)
    full = tuple(s * q for s, q in zip(p.stride, pitch))
    ranges = _canvas_ranges(p, tuple(gy.shape[2:]), full)
    lead = [1] * (3 - p.ndim)                          # unit dims in front for 1-D and 2-D

    def dims(values: Iterable[int], front: int = 1) -> np.ndarray:
        return np.array([front] * len(lead) + list(values), dtype=np.int64)

    args = (np.ascontiguousarray(gy).reshape(-1),
            np.array([n, c, *lead, *gy.shape[2:]], dtype=np.int64), G.reshape(-1), grid + tail,
            dims(p.stride), dims(p.pad_lo, 0), dims([j0 for j0, _ in ranges], 0),
            dims([j1 for _, j1 in ranges]), dims(pitch))
    pieces = _parallel.num_threads() if G.size >= PLANES_PARALLEL_NUMBERS else 1
    _parallel.for_each(lambda r: split(*args, r[0], r[1]), _ranges(c, pieces, align=1),
                       parallel=pieces > 1)
    plane, off = _grid_taps(p.kernel, p.stride, p.dilation, steps)
    return G, pitch, plane, off


@_native.guarded(_numpy_grad_input)
def grad_input(gy: np.ndarray, w: np.ndarray, p: ConvParams, size: tuple[int, ...],
               split: tuple | None = None) -> np.ndarray:
    """``grad_x (N, C_in, *S_in)`` of ``y = conv_transpose(x, w)``: the strided conv of gy."""
    igemm = _native.kernels()["igemm"]
    n = gy.shape[0]
    g = p.groups
    c_in, cog = w.shape[:2]
    cig, ntap, nph = c_in // g, math.prod(p.kernel), math.prod(p.stride)
    G, pitch, plane, off = split if split is not None else planes(gy, p, size)
    # terms k = (co, tap): plane co*prod(s) + plane(tap) of the group, offset of the tap
    src = (np.arange(cog, dtype=np.int64)[:, None] * nph + plane).ravel()
    offs = np.tile(off, cog)
    wk = np.ascontiguousarray(w.reshape(g, cig, cog * ntap))
    grid = n * math.prod(pitch)
    gx = np.empty((n, c_in, *size), dtype=gy.dtype)
    # the loop stores each image's positions straight into grad_x, skipping the grid's gaps
    rowbase = _grid_rows(n, c_in, size, pitch)
    work = c_in * len(src) * grid
    if SEGMENTS and g == 1 and _tiles_apply(gy.dtype, c_in):
        from ._native import SEG_VECTORS, TILE_MR

        segs = _input_segments(n, c_in, size, pitch, SEG_VECTORS, SEGMENT_COST)
        if segs is not None:
            # float32 on AVX-512: register blocks over row segments, G read in place
            _run_segments(segs, _pack_rows(wk[0], TILE_MR)[None], G, src * G.shape[1] + offs,
                          np.array([0, len(src)], dtype=np.int64), c_in, gx.reshape(-1), 1,
                          math.prod(size), work >= PARALLEL_MACS)
            return gx
    kstart, lengths = np.array([0, len(src)], dtype=np.int64), np.array([grid], dtype=np.int64)
    valid = np.array([size[-1]], dtype=np.int64)
    _parallel.for_each(lambda r: igemm(wk, G, src, offs, kstart, lengths, cog * nph,
                                       gx.reshape(-1), rowbase, pitch[-1], valid, 1,
                                       math.prod(size), r[0], r[1], CHUNK),
                       _ranges(grid, _pieces(work)), parallel=work >= PARALLEL_MACS)
    return gx


def _pack_rows(wk: np.ndarray, mr: int) -> np.ndarray:
    """``wk (O, K)`` as one phase of :func:`_pack_tiles`' layout: blocks of ``mr`` rows,
    ``[k][mr]``, zero rows past ``O``."""
    o, k = wk.shape
    nrb = -(-o // mr)
    wp = np.zeros((nrb * mr, k), dtype=wk.dtype)
    wp[:o] = wk
    return np.ascontiguousarray(wp.reshape(nrb, mr, k).transpose(0, 2, 1)).reshape(1, nrb,
                                                                                     k * mr)


@_parallel.cached(maxsize=64)
def _input_segments(n: int, c: int, size: tuple[int, ...], pitch: tuple[int, ...],
                    vectors: int, cost: float) -> tuple[np.ndarray, ...] | None:
    """:func:`_segments` of grad_input's grid (one phase, rows of ``size[-1]`` positions on
    a pitch of ``pitch[-1]``)."""
    return _segments(_grid_rows(n, c, size, pitch), np.array([size[-1]], dtype=np.int64),
                     ((0, 1),), np.zeros(1, dtype=np.int64), pitch[-1], 1, vectors,
                     cost * n * math.prod(pitch))


@_parallel.cached(maxsize=64)
def _grid_rows(n: int, c: int, size: tuple[int, ...], pitch: tuple[int, ...]) -> np.ndarray:
    """``(1, rows)``: where each row of the grid ``(N, *pitch)`` starts in the flat
    ``(N, C, *size)`` array (-1: a gap row)."""
    lead = [n, *pitch[:-1]]
    idx = np.indices(lead).reshape(len(lead), -1)
    base = idx[0] * c * math.prod(size)
    ok = np.ones(idx.shape[1], dtype=bool)
    for a in range(len(size) - 1):
        base = base + idx[a + 1] * math.prod(size[a + 1:])
        ok &= idx[a + 1] < size[a]
    return np.where(ok, base, -1).astype(np.int64)[None]


@_native.guarded(_numpy_grad_weight)
def grad_weight(x: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], p: ConvParams,
                split: tuple | None = None) -> np.ndarray:
    """``grad_w (C_in, C_out/g, *K)`` of ``y = conv_transpose(x, w)``."""
    wdots = _native.kernels()["wdots"]
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w_shape[1]
    nph = math.prod(p.stride)
    G, pitch, plane, off = split if split is not None else planes(gy, p, tuple(size))
    grid = n * math.prod(pitch)
    X = _on_grid("d_x", x, pitch, 0, grid)                  # x on the same grid, zero gaps
    src = (np.arange(cog, dtype=np.int64)[:, None] * nph + plane).ravel()
    offs = np.tile(off, cog)
    zero = x.dtype.type(0)
    threads = _parallel.num_threads()
    work = c_in * len(src) * grid
    if threads > 1 and work >= PARALLEL_MACS and c_in >= 4 * threads:
        # rows (input channels) split across the threads, each writing its own rows
        gw = np.zeros((c_in, len(src)), dtype=x.dtype)
        bounds = _ranges(c_in, threads, align=2)
        _parallel.for_each(lambda r: wdots(X, G, src, offs, cog * nph, cig, gw, r[0], r[1],
                                           0, grid, CHUNK, zero), bounds)
    else:
        # few rows: columns split, one partial sum per range
        ranges = _ranges(grid, _pieces(work))
        parts = np.zeros((len(ranges), c_in, len(src)), dtype=x.dtype)
        _parallel.for_each(lambda i: wdots(X, G, src, offs, cog * nph, cig, parts[i], 0, c_in,
                                           ranges[i][0], ranges[i][1], CHUNK, zero),
                           range(len(ranges)))
        gw = parts.sum(axis=0)
    return gw.reshape(c_in, cog, *p.kernel)
