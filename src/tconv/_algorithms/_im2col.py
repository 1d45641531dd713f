"""Index helpers shared by the algorithms: pad/crop, im2col windows, strided block adds.

All helpers work on batched arrays ``(N, C, *S)`` with 1-3 spatial dims and never loop
over elements in Python; loops run over kernel taps or spatial dims only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._matmul import matmul


def pad_crop(x: np.ndarray, pad: Sequence[tuple[int, int]]) -> np.ndarray:
    """Zero-pad (positive) or crop (negative) the trailing ``len(pad)`` axes of ``x``."""
    nd = len(pad)
    lead = x.ndim - nd
    crop = tuple(slice(max(-lo, 0), x.shape[lead + a] - max(-hi, 0))
                 for a, (lo, hi) in enumerate(pad))
    x = x[(slice(None),) * lead + crop]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in pad]
    if all(w == (0, 0) for w in widths):
        return x
    # one copy into an uninitialised array and zeros on the borders only (np.pad does the
    # same with far more per-call overhead, which small layers pay on every call)
    size = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[lead:], widths))
    y = np.empty((*x.shape[:lead], *size), dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[lead:], widths))
    y[(Ellipsis, *inner)] = x
    for a, (lo, hi) in enumerate(widths):
        before = (slice(None),) * a
        if lo:
            y[(Ellipsis, *before, slice(0, lo), *inner[a + 1:])] = 0
        if hi:
            y[(Ellipsis, *before, slice(lo + x.shape[lead + a], None), *inner[a + 1:])] = 0
    return y


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


def on_grid(x: np.ndarray, pitch: Sequence[int], front: int, out: np.ndarray) -> np.ndarray:
    """Fill ``out (C, total)`` with ``x (N, C, *S)`` channels first: ``front`` zeros, then every
    image on the zero-gapped grid ``(N, *pitch)``, then zeros. One write per number: the gaps
    are zeroed slab by slab, not the whole buffer first."""
    n, c, *size = x.shape
    grid = n * math.prod(pitch)
    out[:, :front] = 0
    out[:, front + grid:] = 0
    view = out[:, front:front + grid].reshape(c, n, *pitch)
    for a, (i, q) in enumerate(zip(size, pitch)):
        if q > i:                                   # the gap after dim a, inside dims < a
            view[(slice(None), slice(None), *(slice(0, v) for v in size[:a]),
                  slice(i, q))] = 0
    view[(slice(None), slice(None), *(slice(0, i) for i in size))] = x.swapaxes(0, 1)
    return out


def group_view(a: np.ndarray, groups: int) -> np.ndarray:
    """``(N, C, *S) -> (N, groups, C/groups, *S)`` (a view)."""
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, *a.shape[2:])


#: numbers in one block's im2col buffer (4 MiB of float32)
BLOCK_ELEMENTS = 1 << 20


Block = tuple[int, int, int, int, int]


def image_blocks(n: int, groups: int, per_image: int, rows: int,
                 budget: int = BLOCK_ELEMENTS, depth: int = 0) -> list[Block]:
    """``(group, n0, n1, row0, row1)`` blocks holding about ``budget`` numbers: whole images,
    or -- when one image is bigger than the budget -- ranges of its ``rows`` output rows
    (the first spatial dim), so that large single images still split across threads.
    ``depth``: the other dim of each block's product (its multiply-adds are the block's
    numbers times ``depth``); whole-image blocks whose products BLAS threads run in order,
    and are then not cut finer for the pool's threads."""
    if per_image > budget and rows > 1:
        step = max(1, rows * budget // per_image)
        return [(gi, i, i + 1, r0, min(rows, r0 + step)) for gi in range(groups)
                for i in range(n) for r0 in range(0, rows, step)]
    from ._parallel import even_split, in_order

    most = max(1, budget // max(per_image, 1))
    threaded = depth > 0 and in_order(min(n, most) * per_image * depth)
    nb = even_split(n, most, groups, pool=not threaded)
    return [(gi, n0, min(n, n0 + nb), 0, rows) for gi in range(groups)
            for n0 in range(0, n, nb)]


def im2col_block(win: np.ndarray, block: Block, name: str = "cols") -> np.ndarray:
    """``cols (Cig*prodK, positions)`` of one block (its images and output rows), copied
    from the window view ``win (N, g, Cig, *out, *K)`` into this thread's scratch buffer."""
    from ._parallel import scratch

    gi, n0, n1, r0, r1 = block
    nd = (win.ndim - 3) // 2
    sub = win[n0:n1, gi, :, r0:r1]                          # (nb, Cig, *out', *K)
    cig, out, kernel = sub.shape[1], sub.shape[2:2 + nd], sub.shape[2 + nd:]
    nb = n1 - n0
    cols = scratch(name, cig * math.prod(kernel) * nb * math.prod(out), win.dtype)
    cols = cols.reshape(cig, *kernel, nb, *out)
    # (nb, Cig, *out, *K) -> (Cig, *K, nb, *out)
    perm = (1, *range(2 + nd, 2 + 2 * nd), 0, *range(2, 2 + nd))
    np.copyto(cols, sub.transpose(perm))
    return cols.reshape(cig * math.prod(kernel), nb * math.prod(out))


def affine_positions(first: Sequence[int], second: Sequence[int], scale_first: Sequence[int],
                     scale_second: Sequence[int], shift: Sequence[int],
                     size: Sequence[int], low: Sequence[int] | None = None,
                     high: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(flat, valid)``, shape ``(*first, *second)``: per dim ``a`` the position
    ``i*scale_first[a] + j*scale_second[a] + shift[a]`` of index ``i < first[a]`` and
    ``j < second[a]``, flattened in C order over ``size``; ``valid`` where every dim's
    position lies in ``[low[a], high[a])`` (default ``[0, size[a])``). The windows of a
    convolution (``o*stride + t*dilation - pad``) and the polyphase split of a padded
    plane (``r + q*stride - pad``) are both such maps."""
    nd = len(first)
    flat = np.zeros((1,) * (2 * nd), dtype=np.int64)
    valid = np.ones((1,) * (2 * nd), dtype=bool)
    for a in range(nd):
        i = np.arange(first[a]).reshape([-1 if b == a else 1 for b in range(2 * nd)])
        j = np.arange(second[a]).reshape([-1 if b == nd + a else 1 for b in range(2 * nd)])
        pos = i * scale_first[a] + j * scale_second[a] + shift[a]
        lo = 0 if low is None else low[a]
        hi = size[a] if high is None else high[a]
        valid = valid & (pos >= lo) & (pos < hi)
        flat = flat * size[a] + pos
    shape = (*first, *second)
    return np.broadcast_to(flat, shape), np.broadcast_to(valid, shape)


def take_index(out: tuple[int, ...], size: tuple[int, ...], channels: int,
               kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
               pad_lo: tuple[int, ...]) -> np.ndarray:
    """``index (prod(out), channels * prod(K))`` of :func:`take_cols`: the windows of
    ``channels`` planes of ``size``, each plane stored with one zero after it (rows of
    ``prod(size) + 1`` numbers): ``index[q, c*prod(K) + k]`` is ``c*(prod(size) + 1)``
    plus the flat position that tap ``k`` of output position ``q`` reads --
    ``q*stride + k*dilation - pad_lo`` per dim (``pad_lo`` < 0: cropped) -- or plus
    ``prod(size)`` (the zero) where that falls outside the plane."""
    plane = math.prod(size)
    flat, valid = affine_positions(out, kernel, stride, dilation, [-v for v in pad_lo], size)
    local = np.where(valid, flat, plane).reshape(math.prod(out), 1, math.prod(kernel))
    base = (np.arange(channels) * (plane + 1)).reshape(1, -1, 1)
    return (local + base).astype(np.intp).reshape(math.prod(out), -1)


def take_cols(src: np.ndarray, index: np.ndarray, q0: int, q1: int, out: np.ndarray
              ) -> np.ndarray:
    """``cols (C*prod(K), nb*(q1 - q0))`` of one block: ``src (nb, C*(plane + 1))`` holds the
    block's images, each a group's planes with a zero after each (:func:`take_index`);
    output positions ``q0:q1``. One ``np.take`` writes ``out (nb, q1 - q0, C*prod(K))``,
    returned transposed (a view): the layout both gradient products read as it is."""
    np.take(src, index[q0:q1], axis=1, out=out, mode="clip")
    return out.reshape(-1, out.shape[-1]).T


def flat_grid(counts: Sequence[int], steps: Sequence[int]) -> np.ndarray:
    """``sum_a i_a * steps[a]`` for every ``i_a < counts[a]``, shape ``counts`` (row-major):
    the flat offsets of a grid's points."""
    off = np.zeros((), np.int64)
    for count, step in zip(counts, steps):
        off = np.add.outer(off, np.arange(count, dtype=np.int64) * step)
    return off


def conv_gemm(x: np.ndarray, w: np.ndarray, stride: Sequence[int],
              pad: Sequence[tuple[int, int]], dilation: Sequence[int], groups: int,
              out: Sequence[int]) -> np.ndarray:
    """Direct convolution (cross-correlation) by im2col + matrix products.

    ``x`` is ``(N, C_in, *S)``, ``w`` is ``(C_out, C_in/groups, *K)``; returns
    ``(N, C_out, *out)``. ``pad`` pairs may be negative (crop). Only the first ``out``
    positions are computed. Blocks of whole images (about ``BLOCK_ELEMENTS`` numbers of
    im2col each) run on the thread pool, each into its thread's reused buffers::

        y[n0:n1, group] = w[group] @ im2col(x[n0:n1, group])   # (Cog, Cig*K) @ (Cig*K, nb*out)
    """
    from ._parallel import blas_product, for_each

    n = x.shape[0]
    c_out, cig = w.shape[:2]
    cog = c_out // groups
    kernel = w.shape[2:]
    nout = math.prod(out)
    xp = pad_crop(x, pad)
    win = windows(group_view(xp, groups), kernel, stride, dilation, out)  # (N,g,Cig,*out,*K)
    wg = w.reshape(groups, cog, -1)                                     # (g, Cog, Cig*prodK)
    # channels-major result, so each block's product lands in place: (g, Cog, N, prodOut)
    y = np.empty((groups, cog, n, nout), dtype=np.result_type(x, w))

    rest = nout // out[0] if nout else 0                    # positions per output row
    blocks = image_blocks(n, groups, cig * math.prod(kernel) * nout, out[0])

    def run(block: Block) -> None:
        gi, n0, n1, r0, r1 = block
        cols = im2col_block(win, block)
        # images n0:n1, rows r0:r1 of group gi: one row range of y, contiguous per channel
        dst = y[gi, :, n0:n1].reshape(cog, (n1 - n0) * nout)[:, r0 * rest:r1 * rest] \
            if n1 - n0 == 1 else y[gi, :, n0:n1].reshape(cog, (n1 - n0) * nout)
        matmul(wg[gi], cols, out=dst)

    big = max(((n1 - n0) * (r1 - r0) * rest for _, n0, n1, r0, r1 in blocks), default=0)
    for_each(run, blocks, blas_macs=blas_product(cog, wg.shape[2], big))
    return np.moveaxis(y.reshape(c_out, n, *out), 1, 0)


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
