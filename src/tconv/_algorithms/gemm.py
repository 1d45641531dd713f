"""conv_transpose as one matrix product followed by col2im.

    cols[g, c_out*K, n*S_in] = weight[g].T @ x[g]          (every useful multiply, once)
    y[..., t*d + i*s - pad_low] += cols[..., t, i]         (prod(K) strided block adds)

The matrix product does exactly the useful multiply-adds; col2im is a sum of prod(K)
strided slices, never an element-wise scatter.

Blocking: ``cols`` is ``prod(K)`` times the input and does not fit in cache (a DCGAN layer:
64 MB), and a fresh array that large costs a page fault per 4 KiB on first touch. So the
product runs in blocks of whole images (and, if one image is still too big, of output
channels), each into its thread's reused buffer of about :data:`BLOCK_ELEMENTS` numbers,
and is added into ``y`` while still in cache; blocks run on the thread pool::

    for (n0:n1, c0:c1) in blocks:    y[n0:n1, c0:c1] += col2im(wT[c0:c1] @ x[:, n0:n1])

Small grouped layers run every group of a block of images in one batched product and one
col2im (the calls a group would cost more than a small group's sums).

When one image of one channel is bigger than a block (FSRCNN: 81 taps x 256x256), blocks
are ranges of input rows instead; neighbouring row blocks add into shared output rows, so
the even blocks run in parallel first, then the odd ones.

With numba (``tconv[fast]``), channels-first layers whose image fits a block take a
compiled path instead: a batched product per block read from ``x`` in place, and a col2im
loop that writes each output once (:func:`compiled_col2im` says where: the 2-D loops, a
unit row dim in front for 1-D layers, or the 3-D loops).

Layout: channels-first col2im adds runs along the last spatial dim -- 4 numbers long for
a 4x4 DCGAN input. For wide layers on small images the product is computed channels-last
instead (``cols[n, *S, *K, c_out] = x_nhwc @ w``), every block add runs over ``C_out``
contiguous numbers, and one transpose per block writes ``y``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._checks import ConvParams
from . import _cost, _native, _parallel
from ._im2col import affine_positions, block_slices
from ._matmul import matmul

#: numbers in the reused product buffer (4 MiB of float32: fits the L3 cache of small CPUs)
BLOCK_ELEMENTS = 1 << 20

#: the channels-last path's budget: half (the same speed, less peak memory)
LAST_BLOCK_ELEMENTS = 1 << 19

#: small grouped layers on the channels-first path (:func:`_groups_together`) run several
#: groups a block: one batched product and one col2im (compiled, or one strided add a tap),
#: not those calls a group; ``False``: a block a group (for A/B checks)
GROUPS_TOGETHER = True


@_parallel.cached(maxsize=256)
def _tap_slices(p: ConvParams, size: tuple[int, ...], out: tuple[int, ...], first_row: int = 0,
                ) -> tuple[tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]], ...]:
    """``(t, source, destination)`` per kernel tap that lands inside the output, for the
    input rows ``first_row, first_row + size[0]`` (first spatial dim); remembered, as small
    layers repeat them every call."""
    res = []
    for t in itertools.product(*(range(k) for k in p.kernel)):
        src, dst = [], []
        for a in range(p.ndim):
            start = t[a] * p.dilation[a] - p.pad_lo[a] + (first_row * p.stride[0] if a == 0
                                                          else 0)
            sl = block_slices(start, size[a], p.stride[a], 0, out[a])
            if sl is None:
                break
            src.append(sl[0])
            dst.append(sl[1])
        else:
            res.append((t, tuple(src), tuple(dst)))
    return tuple(res)


def _groups_together(n: int, g: int, cig: int, cog: int, ntap: int, nsz: int) -> bool:
    """A small grouped layer: the whole product within :data:`BLOCK_ELEMENTS` and each
    group's product below BLAS's threading. Its blocks then take several groups each
    (:func:`_group_spans`): a product and col2im's calls a group cost more than a small
    group's sums."""
    return (GROUPS_TOGETHER and g > 1 and n * g * cog * ntap * nsz <= BLOCK_ELEMENTS
            and not _parallel.blas_threaded(cog * ntap * cig * nsz))


def _group_spans(n: int, g: int) -> list[tuple[int, int, int, int]]:
    """``(g0, g1, n0, n1)`` blocks of a small grouped layer: images shared among the
    threads, and groups too where the images make fewer blocks than threads."""
    nb = _parallel.even_split(n, n)
    gb = -(-g // max(1, min(g, _parallel.num_threads() // -(-n // nb))))
    return [(g0, min(g, g0 + gb), n0, min(n, n0 + nb))
            for n0 in range(0, n, nb) for g0 in range(0, g, gb)]


def _blocks(n: int, cog: int, per_image_channel: int, image_macs: int = 0
            ) -> tuple[int, int]:
    """Images and output channels per block so the product buffer stays near the budget.
    ``image_macs``: one image's product (BLAS sees a product per image); where BLAS threads
    it the blocks run in order (:func:`tconv._algorithms._parallel.in_order`) and whole
    images are not cut for the pool."""
    per_image = cog * per_image_channel
    if per_image <= BLOCK_ELEMENTS:
        return _parallel.even_split(n, BLOCK_ELEMENTS // per_image,
                                    pool=not _parallel.in_order(image_macs)), cog
    return 1, max(1, min(cog, BLOCK_ELEMENTS // per_image_channel))


def _block_list(n: int, g: int, cig: int, cog: int, ntap: int, nsz: int,
                ) -> list[tuple[int, int, int, int, int, int]]:
    """The channels-first blocks ``(g0, g1, c0, c1, n0, n1)``: groups ``g0:g1`` (several only
    whole, ``c0:c1 = 0:cog``: :func:`_groups_together`), output channels, images."""
    if _groups_together(n, g, cig, cog, ntap, nsz):
        return [(g0, g1, 0, cog, n0, n1) for g0, g1, n0, n1 in _group_spans(n, g)]
    nb, cb = _blocks(n, cog, ntap * nsz, _parallel.blas_product(cog * ntap, cig, nsz))
    return [(gi, gi + 1, c0, min(cog, c0 + cb), n0, min(n, n0 + nb)) for gi in range(g)
            for c0 in range(0, cog, cb) for n0 in range(0, n, nb)]


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds :func:`conv_transpose` performs: the one product, every tap of every
    input (``N * C_in * C_out/g * prod(S_in) * prod(K)``)."""
    return int(np.prod(x_shape, dtype=np.int64)) * int(np.prod(w_shape[1:], dtype=np.int64))


@_native.guarded()
def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...],
                   layout: str | None = None) -> np.ndarray:
    """``layout``: where col2im's inner loop runs -- ``"channels_last"`` (over C_out, for
    wide layers) or ``"channels_first"`` (over the last spatial dim); default by shape."""
    if layout is None:
        if _cost.scatter_sum(x.shape, w.shape, p):
            return _scatter_sum(x, w, p, out)
        layout = "channels_last" if channels_last(x.shape, w.shape) else "channels_first"
    fn = _channels_last if layout == "channels_last" else _channels_first
    return fn(x, w, p, out)


@_parallel.cached(maxsize=64)
def _scatter_index(n: int, cog: int, size: tuple[int, ...], out: tuple[int, ...],
                   p: ConvParams) -> tuple[np.ndarray, int]:
    """Where each number of the product ``cols (N, g, C_out/g, *K, *S_in)`` lands in the
    flat ``y (N, C_out, *S_out)`` (``y.size``: outside the output, dropped), and
    ``y.size``; remembered per layer."""
    g, nd = p.groups, p.ndim
    c_out = g * cog
    lead = (np.arange(n)[:, None, None] * c_out
            + np.arange(g)[None, :, None] * cog + np.arange(cog)[None, None, :])
    # output o = i*s + t*d - lo per dim, taps then inputs
    spatial, ok = affine_positions(p.kernel, size, p.dilation, p.stride,
                                   [-v for v in p.pad_lo], out)
    flat = lead.reshape(n, g, cog, *([1] * (2 * nd))) * math.prod(out) + spatial
    total = n * c_out * math.prod(out)
    return np.where(ok, flat, total).astype(np.intp).reshape(-1), total


@_native.guarded()
def _scatter_sum(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                 ) -> np.ndarray:
    """A small layer: every image and group's product in one batched ``np.matmul``, then
    col2im as one ``np.bincount`` over the remembered index of each product number's output
    (a few NumPy calls in all; the strided adds or phase sums would issue one a tap), or
    with numba the same sums in one compiled pass (``scatter_add``: the same numbers, half
    bincount's time). Sums in float64, rounded once to the layer's dtype."""
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    nsz = math.prod(size)
    wt = w.reshape(g, cig, cog * math.prod(p.kernel)).transpose(0, 2, 1)  # (g, Cog*K, Cig)
    # (NumPy's own loop, not BLAS, may run a batched product this small: its FP warnings on
    # inf and NaN inputs are not the caller's business -- the numbers are as BLAS's)
    # (matmul: one input channel a group -- depthwise -- is a broadcast multiply)
    with np.errstate(invalid="ignore", over="ignore"):
        cols = matmul(wt, x.reshape(n, g, cig, nsz))       # (N, g, Cog*prodK, prodS)
    idx, total = _scatter_index(n, cog, tuple(size), out, p)
    if _native.available():
        y = np.empty(total, dtype=x.dtype)
        _native.kernels()["scatter_add"](idx, cols.reshape(-1),
                                         _parallel.scratch("scatter", total + 1, np.float64), y)
        return y.reshape(n, g * cog, *out)
    y = np.bincount(idx, weights=cols.reshape(-1), minlength=total + 1)[:total]
    return y.astype(x.dtype, copy=False).reshape(n, g * cog, *out)


def channels_last(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> bool:
    """Whether col2im runs channels-last (the rule is
    :func:`tconv._algorithms._cost.gemm_channels_last`)."""
    return _cost.gemm_channels_last(x_shape, w_shape)


def _channels_first(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                    ) -> np.ndarray:
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    ntap, nsz = math.prod(p.kernel), math.prod(size)
    if ntap * nsz <= BLOCK_ELEMENTS and compiled_col2im(p, "channels_first"):
        return _channels_first_compiled(x, w, p, out)
    # x: (N, g, Cig, *S) -> (g, Cig, N*prodS): one copy unless N == 1
    xg = np.moveaxis(x.reshape(n, g, cig, nsz), 0, 2).reshape(g, cig, n * nsz)
    wt = w.reshape(g, cig, cog * ntap).transpose(0, 2, 1)   # (g, Cog*prodK, Cig) view
    taps = _tap_slices(p, tuple(size), out)
    # no two taps overlap when the footprint fits in one stride: plain copies, no sums
    overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(p.stride, p.dilation, p.kernel))
    y = np.zeros((n, g, cog, *out), dtype=x.dtype)
    rows = size[0]
    if ntap * nsz > BLOCK_ELEMENTS:
        # one image of one channel is too big (blocks of one image and channel): blocks of
        # input rows. Blocks two apart never touch the same output rows, so even blocks run
        # together, then odd ones.
        reach = -(-(p.dilation[0] * (p.kernel[0] - 1) + 1) // p.stride[0])
        rows = min(size[0], max(reach, BLOCK_ELEMENTS // (ntap * (nsz // size[0]))))
    # blocks (g0, g1, c0, c1, n0, n1, i0): _block_list's, and the first input row of a block
    # of rows
    waves: list[list[tuple[int, int, int, int, int, int, int]]] = [[], []]
    for block in _block_list(n, g, cig, cog, ntap, nsz):
        for j, i0 in enumerate(range(0, size[0], rows)):
            waves[j % 2].append((*block, i0))
    rest = nsz // size[0]

    def run(block: tuple[int, int, int, int, int, int, int]) -> None:
        g0, g1, c0, c1, n0, n1, i0 = block
        i1 = min(size[0], i0 + rows)
        sub = (i1 - i0, *size[1:])
        chans = (g1 - g0) * (c1 - c0)
        cols = _parallel.scratch("cols", chans * ntap * (n1 - n0) * (i1 - i0) * rest,
                                 x.dtype).reshape(g1 - g0, (c1 - c0) * ntap, -1)
        if rows == size[0]:
            xs = xg[g0:g1, :, n0 * nsz:n1 * nsz]
        else:                                   # one image (nb == 1): its rows i0:i1
            xs = xg[g0:g1, :, n0 * nsz + i0 * rest:n0 * nsz + i1 * rest]
        matmul(wt[g0:g1, c0 * ntap:c1 * ntap], xs, out=cols)
        cols6 = cols.reshape(chans, *p.kernel, n1 - n0, *sub)
        # (Cb, Nb, *out) view: the groups' channels are consecutive in y
        yb = y[n0:n1, g0:g1, c0:c1].reshape(n1 - n0, chans, *out).swapaxes(0, 1)
        for t, src, dst in _tap_slices(p, sub, out, i0) if rows != size[0] else taps:
            part = cols6[(slice(None), *t, slice(None), *src)]
            if overlap:
                yb[(slice(None), slice(None), *dst)] += part
            else:
                yb[(slice(None), slice(None), *dst)] = part

    big = max((_parallel.blas_product((c1 - c0) * ntap, cig, (n1 - n0) * rows * rest)
               for wave in waves for _, _, c0, c1, n0, n1, _ in wave), default=0)
    for wave in waves:
        _parallel.for_each(run, wave, blas_macs=big)
    return y.reshape(n, g * cog, *out)


@_parallel.cached(maxsize=256)
def _phase_taps(k: int, s: int, pad: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`.phase.phase_taps` of every output phase ``r < s`` (one dim), as the flat
    arrays the compiled col2im reads: phase starts, taps, input offsets (output ``m*s + r``
    reads input ``m + offset``)."""
    from .phase import all_phase_taps

    starts, taps, offsets = all_phase_taps(k, s, d, pad)
    return starts, taps, offsets


def _kernel_dims(p: ConvParams) -> int:
    """Spatial dims of the compiled col2im that runs the layer: the 2-D loops for 1-D and
    2-D layers (a unit row dim in front for 1-D), the 3-D loops for 3-D ones."""
    return max(2, p.ndim)


def _pad(values: tuple[int, ...], fill: int, nd: int) -> tuple[int, ...]:
    """Per-dim values padded in front to ``nd`` spatial dims."""
    return (fill,) * (nd - len(values)) + tuple(values)


@_parallel.cached(maxsize=256)
def _tables(p: ConvParams, nd: int) -> tuple[object, ...]:
    """The compiled col2im's per-dim phase tables (:func:`_phase_taps`) and strides for
    ``nd`` spatial dims (unit dims in front: kernel 1, stride 1)."""
    k, s = _pad(p.kernel, 1, nd), _pad(p.stride, 1, nd)
    d, lo = _pad(p.dilation, 1, nd), _pad(p.pad_lo, 0, nd)
    tabs = [t for a in range(nd) for t in _phase_taps(k[a], s[a], lo[a], d[a])]
    return (*tabs, *s)


def compiled_col2im(p: ConvParams, layout: str) -> bool:
    """gemm's col2im runs compiled (numba installed): channels-last always (the NumPy path
    sums into a channels-last buffer and transposes it); channels-first in 2-D, and in 1-D
    and 3-D where taps overlap (some output sums several) -- a kernel that fits in the
    stride is one plain strided copy a tap there, as fast in NumPy."""
    return _native.available() and (layout == "channels_last" or p.ndim == 2
                                    or _cost._overlap(p))


def _channels_first_compiled(x: np.ndarray, w: np.ndarray, p: ConvParams,
                             out: tuple[int, ...]) -> np.ndarray:
    """Channels-first with numba (``tconv[fast]``): per block of images, one batched
    product ``w.T @ x[n]`` read from ``x`` in place (no ``(C_in, N*S)`` copy of the input),
    then a compiled col2im (``col2im2d``, ``col2im3d``) that writes every output once as
    the sum of its taps -- instead of ``prod(K)`` strided read-add-write passes over the
    output block."""
    nd = _kernel_dims(p)
    col2im = _native.kernels()[f"col2im{nd}d"]
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    ntap, nsz = math.prod(p.kernel), math.prod(size)
    xv = x.reshape(n, g, cig, nsz)
    wt = w.reshape(g, cig, cog * ntap).transpose(0, 2, 1)   # (g, Cog*prodK, Cig) view
    y = np.empty((n, g, cog, *out), dtype=x.dtype)
    kpad, spad, opad = _pad(p.kernel, 1, nd), _pad(tuple(size), 1, nd), _pad(out, 1, nd)
    tables = _tables(p, nd)
    sx = p.stride[-1]
    q = -(-out[-1] // sx)
    depth = (1,) if nd == 2 else ()     # the 2-D loops read a unit depth dim
    blocks = _block_list(n, g, cig, cog, ntap, nsz)

    def run(block: tuple[int, int, int, int, int, int]) -> None:
        g0, g1, c0, c1, n0, n1 = block
        chans = (g1 - g0) * (c1 - c0)
        cols = _parallel.scratch("cols", (n1 - n0) * chans * ntap * nsz, x.dtype)
        cols = cols.reshape(n1 - n0, g1 - g0, (c1 - c0) * ntap, nsz)
        matmul(wt[g0:g1, c0 * ntap:c1 * ntap], xv[n0:n1, g0:g1], out=cols)
        tmp = _parallel.scratch("c2i_tmp", sx * q, x.dtype).reshape(sx, q)
        col2im(cols.reshape(n1 - n0, chans, *kpad, *depth, *spad), *tables,
               y[n0:n1, g0:g1, c0:c1].reshape(n1 - n0, chans, *opad), tmp)

    # one product per image and group of the block (a batched matmul)
    cb = max((c1 - c0 for _, _, c0, c1, _, _ in blocks), default=0)
    _parallel.for_each(run, blocks, blas_macs=_parallel.blas_product(cb * ntap, cig, nsz))
    return y.reshape(n, g * cog, *out)


def _channels_last(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    # the same product with the channels innermost: cols[n, *S, *K, c_out] -- every block
    # add then runs over C_out contiguous numbers, whatever the spatial size. With numba, a
    # compiled col2im sums each output's taps once and writes it channels-first.
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    ntap, nsz, nout = math.prod(p.kernel), math.prod(size), math.prod(out)
    xt = np.ascontiguousarray(x.reshape(n, g, cig, nsz).transpose(1, 0, 3, 2))  # (g,N,S,Cig)
    most = LAST_BLOCK_ELEMENTS // max(nsz * ntap * cog, nout * cog)
    # a block's product BLAS threads runs in order: not cut for the pool
    nb = _parallel.even_split(n, most, g, pool=not _parallel.in_order(
        _parallel.blas_product(max(1, min(n, most)) * nsz, cig, ntap * cog)))
    # the weights (g, Cig, prodK*Cog): one product per block, channels innermost
    wt = np.ascontiguousarray(w.reshape(g, cig, cog, ntap).transpose(0, 1, 3, 2))
    wp = list(wt.reshape(g, cig, ntap * cog))
    taps = _tap_slices(p, tuple(size), out)
    overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(p.stride, p.dilation, p.kernel))
    y = np.empty((n, g, cog, *out), dtype=x.dtype)
    blocks = [(gi, n0, min(n, n0 + nb)) for gi in range(g) for n0 in range(0, n, nb)]

    compiled = compiled_col2im(p, "channels_last")
    if compiled:
        nd = _kernel_dims(p)
        col2im = _native.kernels()[f"col2im_last{nd}d"]
        yflat = y.reshape(-1)
        tables = _tables(p, nd)
        kpad, spad, opad = _pad(p.kernel, 1, nd), _pad(tuple(size), 1, nd), _pad(out, 1, nd)

    def run(block: tuple[int, int, int]) -> None:
        gi, n0, n1 = block
        cols = _parallel.scratch("cols", (n1 - n0) * nsz * ntap * cog, x.dtype)
        cols = cols.reshape((n1 - n0) * nsz, ntap * cog)
        matmul(xt[gi, n0:n1].reshape(-1, cig), wp[gi], out=cols)
        if compiled:
            # each output once, summed over C_out contiguous numbers, written channels-first
            col2im(cols.reshape(n1 - n0, *spad, *kpad, cog), *tables, yflat,
                   (n0 * g + gi) * cog * nout, g * cog * nout, *opad,
                   _parallel.scratch("acc", out[-1] * cog, x.dtype))
            return
        cols6 = cols.reshape(n1 - n0, *size, *p.kernel, cog)
        z = _parallel.scratch("acc", (n1 - n0) * nout * cog, x.dtype)
        z = z.reshape(n1 - n0, *out, cog)
        z.fill(0)
        for t, src, dst in taps:
            part = cols6[(slice(None), *src, *t, slice(None))]
            if overlap:
                z[(slice(None), *dst, slice(None))] += part
            else:
                z[(slice(None), *dst, slice(None))] = part
        y[n0:n1, gi] = np.moveaxis(z, -1, 1)

    _parallel.for_each(run, blocks,
                       blas_macs=_parallel.blas_product(min(nb, n) * nsz, cig, ntap * cog))
    return y.reshape(n, g * cog, *out)
