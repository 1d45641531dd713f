"""Gradients of ``conv`` and ``conv_transpose`` -- each is the other's adjoint.

With C = C(weight) the convolution matrix (:mod:`tconv.matrix`):

    y = conv(x, w) = C x                 =>  grad_x = C.T grad_y = conv_transpose(grad_y, w)
    y = conv_transpose(x, w) = C.T x     =>  grad_x = C grad_y   = conv(grad_y, w)

with the same stride, padding, dilation and groups; ``output_padding`` (or a high-side crop)
restores the exact input size. The weight gradient correlates the input with ``grad_y``:

    conv:           grad_w[co, ci, t] = sum_{n,o} grad_y[n, co, o] * x_pad[n, ci, o*s + t*d]
    conv_transpose: grad_w[ci, co, t] = sum_{n,i} x[n, ci, i] * grad_y_pad[n, co, i*s + t*d]

-- the second is the first with ``x`` and ``grad_y`` swapping roles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import numpy as np

from . import _checks
from ._algorithms import _cost, _native, _parallel, depthwise, direct, gemm
from ._algorithms._im2col import conv_gemm, group_view, pad_crop, take_cols, take_index, windows
from ._algorithms._matmul import matmul, tall
from ._checks import ConvParams
from ._typing import Array, ArrayLike, IntOrTuple, PaddingArg
from .conv import _plain, transposed_params

__all__ = ["conv_backward", "conv_transpose_backward"]


def _conv_weight_grad(gy: np.ndarray, x: np.ndarray, kernel: tuple[int, ...],
                      stride: tuple[int, ...], pad: tuple[tuple[int, int], ...],
                      dilation: tuple[int, ...], groups: int) -> np.ndarray:
    """``grad_w (C_out, C_in/g, *K)`` of ``y = conv(x, w)`` given ``gy (N, C_out, *S_out)``.

    Blocks of images on the thread pool (or in order, their products threaded by BLAS),
    each thread summing its own partial gradient::

        grad_w[group] += gy[n0:n1, group] @ im2col(x[n0:n1, group]).T

    (as one product over the block's images, or -- many positions per image, a small
    gradient -- as the sum of one product per image, which reads gy in place).
    """
    from ._algorithms import _im2col
    from ._algorithms._im2col import im2col_block, image_blocks

    n, c_out, *out = gy.shape
    cig = x.shape[1] // groups
    cog, nout, ntap = c_out // groups, math.prod(out), math.prod(kernel)
    xp = pad_crop(x, pad)
    win = windows(group_view(xp, groups), kernel, stride, dilation, out)
    gyg = group_view(gy.reshape(n, c_out, nout), groups)          # (N, g, Cog, prodOut)
    # one block per thread (a deep product), at most 8 blocks' worth of im2col each; one
    # block in all where even one image's product is threaded by BLAS (blocks in order)
    per_image, budget = cig * ntap * nout, _im2col.BLOCK_ELEMENTS
    one_image = _parallel.blas_product(cog, nout, cig * ntap)
    share = 1 if _parallel.in_order(one_image) else _parallel.num_threads()
    blocks = image_blocks(n, groups, per_image, out[0],
                          min(8 * budget, max(budget, n * per_image // share)))
    dtype = np.result_type(gy, x)
    rest = nout // out[0] if nout else 0                           # positions per row
    big = max(((n1 - n0) * (r1 - r0) * rest for _, n0, n1, r0, r1 in blocks), default=0)
    threads = _parallel.pool_workers(len(blocks),
                                     blas_macs=_parallel.blas_product(cog, big, cig * ntap))
    # the products as (Cig*prodK, Cog) where that is the taller output
    flip = tall(cog, cig * ntap, _least_positions(blocks, rest))
    partials = _Partials(np.empty((groups, *((cig * ntap, cog) if flip else
                                             (cog, cig * ntap))), dtype=dtype), threads)
    # many positions per image and a small gradient (e.g. 1024 positions, 64 x 48 numbers):
    # one product per image is cheaper than copying gy into (Cog, nb*prodOut) first
    per_image_products = nout >= 256 and n * cog * cig * ntap <= _im2col.BLOCK_ELEMENTS

    def run(block: tuple[int, int, int, int, int]) -> None:
        gi, n0, n1, r0, r1 = block
        cols = im2col_block(win, block)                            # (Cig*prodK, positions)
        if n1 - n0 == 1:
            g_one = gyg[n0, gi][:, r0 * rest:r1 * rest]            # (Cog, positions) view
            partials.add(gi, _product_nt(g_one, cols, flip))
        elif per_image_products:
            # (nb, Cog, prodOut) @ (nb, prodOut, Cig*prodK) summed over images: no copy
            cols_n = cols.reshape(-1, n1 - n0, nout).swapaxes(0, 1)  # (nb, Cig*prodK, .)
            g_n = gyg[n0:n1, gi]                                   # (nb, Cog, prodOut)
            a, b = (cols_n, g_n) if flip else (g_n, cols_n)
            partials.add(gi, lambda dst: np.sum(matmul(a, b.swapaxes(1, 2)), axis=0,
                                                out=dst))
        else:
            g_blk = _parallel.scratch("gy", cog * (n1 - n0) * nout, dtype).reshape(
                cog, n1 - n0, nout)
            np.copyto(g_blk, gyg[n0:n1, gi].swapaxes(0, 1))
            partials.add(gi, _product_nt(g_blk.reshape(cog, -1), cols, flip))

    _parallel.for_each(run, blocks, workers=threads)
    total = partials.total()
    if flip:
        total = total.swapaxes(1, 2)
    return total.reshape(c_out, cig, *kernel)


def _least_positions(blocks: list[tuple[int, int, int, int, int]], rest: int) -> int:
    """The fewest positions (the reduction of a weight-gradient product) a block holds."""
    return min(((n1 - n0) * (r1 - r0) * rest for _, n0, n1, r0, r1 in blocks), default=0)


def _product_nt(a: np.ndarray, b: np.ndarray, flip: bool) -> Callable[[np.ndarray], object]:
    """The product ``a @ b.T`` of two row-major operands (rows of one long reduction),
    written into ``dst`` -- or, ``flip`` (:func:`tconv._algorithms._matmul.tall`), its
    transpose ``b @ a.T``."""
    if flip:
        return lambda dst: matmul(b, a.T, out=dst)
    return lambda dst: matmul(a, b.T, out=dst)


class _Partials:
    """Per-thread partial weight gradients ``(g, rows, cols)``, one per thread that runs
    blocks: the first product of a group into a partial writes it, later ones add to it
    (no zeroed buffers); :meth:`total` sums them into ``out``, which is the first partial
    itself (no sum of one partial)."""

    def __init__(self, out: np.ndarray, threads: int) -> None:
        self.out = out
        self.parts: list[np.ndarray | None] = [out] + [None] * (threads - 1)
        self.filled = np.zeros((threads, out.shape[0]), dtype=bool)
        self.slots = list(range(threads))

    def add(self, gi: int, produce: Callable[[np.ndarray], object]) -> None:
        """``produce(dst)`` writes one product of group ``gi`` into ``dst``; it lands in
        the partial of the slot this thread holds meanwhile."""
        from ._algorithms._parallel import scratch

        slot = self.slots.pop()
        try:
            part = self.parts[slot]
            if part is None:
                part = self.parts[slot] = np.empty_like(self.out)
            if not self.filled[slot, gi]:
                produce(part[gi])
                self.filled[slot, gi] = True
            else:
                tmp = scratch("gw", part[gi].size, part.dtype).reshape(part[gi].shape)
                produce(tmp)
                part[gi] += tmp
        finally:
            self.slots.append(slot)

    def total(self) -> np.ndarray:
        """``out``: the partials summed; a group no block reached (an empty input) is 0."""
        for gi in range(self.out.shape[0]):
            done = [s for s in range(self.filled.shape[0]) if self.filled[s, gi]]
            if not done:
                self.out[gi] = 0
            elif done[0] != 0:
                self.out[gi] = self.parts[done[0]][gi]  # type: ignore[index]
            for s in done[1:]:
                self.out[gi] += self.parts[s][gi]  # type: ignore[index]
        return self.out


#: positions an image from which the shared-im2col weight gradient of a block of several
#: images runs one product per image on ``x`` in place rather than copying the block's ``x``
#: (where that copy is at least the im2col's size: ``C_in/g >= C_out/g * prod(K)``)
PER_IMAGE_POSITIONS = 256


@_parallel.cached(maxsize=32)
def _take_index(size: tuple[int, ...], gy_size: tuple[int, ...], cog: int, p: ConvParams
                ) -> np.ndarray:
    """:func:`take_index` of the conv of ``grad_out`` (``cog`` channels a group, planes of
    ``gy_size``) down to ``size``: it reads ``grad_out`` padded (or cropped) by
    ``p.crop``; remembered per layer."""
    return take_index(size, gy_size, cog, p.kernel, p.stride, p.dilation,
                      tuple(lo for lo, _ in p.crop))


def _transpose_gradients_gemm(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams,
                               take: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Both gradients of ``y = conv_transpose(x, w)`` (batched, validated) by im2col and
    matrix products, each block's im2col of ``gy`` copied once and read by both::

        cols = im2col(gy[n0:n1, group])                 # (Cog*prodK, positions)
        grad_x[n0:n1, group] = w[group] @ cols          # (Cig, Cog*prodK) @ cols
        grad_w[group]       += x[n0:n1, group] @ cols.T # (Cig, positions) @ cols.T

    (the input gradient is the strided conv of ``gy`` with ``w``, the weight gradient the
    correlation of ``x`` with the same windows). Blocks of images (or of one image's rows)
    run on the thread pool, each thread summing its own partial weight gradient, or in
    order with BLAS threading large products -- as :func:`tconv._algorithms._im2col.conv_gemm`
    and :func:`_conv_weight_grad` run them. ``take``: the im2col taken through an index
    (True) or copied from the window view (False); default by the cost model
    (:func:`tconv._algorithms._cost.take_cols`)."""
    from ._algorithms import _im2col
    from ._algorithms._im2col import im2col_block, image_blocks

    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    ntap, nsz = math.prod(p.kernel), math.prod(size)
    dtype = np.result_type(gy, x, w)
    if n == 0 or nsz == 0:
        return np.zeros(x.shape, dtype=dtype), np.zeros(w.shape, dtype=dtype)
    rest = nsz // size[0]                                    # positions per first-dim row
    if _cost.take_cols(x.shape, w.shape, p) if take is None else take:
        # short input rows: each block's windows taken through a remembered index from
        # grad_out's planes, a zero after each (the window copy's inner loop would run
        # rows of only S_in[-1] numbers)
        plane = math.prod(gy.shape[2:])
        rows = _parallel.scratch("take_src", n * g * cog * (plane + 1), gy.dtype).reshape(
            n * g * cog, plane + 1)
        rows[:, :plane] = gy.reshape(n * g * cog, plane)
        rows[:, plane] = 0
        src = rows.reshape(n, g, cog * (plane + 1))
        index = _take_index(tuple(size), tuple(gy.shape[2:]), cog, p)

        def im2col(block: tuple[int, int, int, int, int]) -> np.ndarray:
            gi, n0, n1, r0, r1 = block
            q0, q1 = r0 * rest, r1 * rest
            out = _parallel.scratch("cols", (n1 - n0) * (q1 - q0) * cog * ntap,
                                    gy.dtype).reshape(n1 - n0, q1 - q0, cog * ntap)
            return take_cols(src[n0:n1, gi], index, q0, q1, out)
    else:
        win = windows(group_view(pad_crop(gy, p.crop), g), p.kernel, p.stride, p.dilation,
                      size)

        def im2col(block: tuple[int, int, int, int, int]) -> np.ndarray:
            return im2col_block(win, block)
    wg = w.reshape(g, cig, cog * ntap)                      # the conv weight of gy -> grad_x
    xg = group_view(x.reshape(n, c_in, nsz), g)             # (N, g, Cig, prodS)
    gx = np.empty((g, cig, n, nsz), dtype=dtype)            # channels-major: blocks in place
    # blocks as the weight gradient alone takes them (one a thread, at most 8 blocks' worth
    # of im2col each): each block adds its share into a partial gradient, and small blocks
    # would add a large gradient many times
    per_image, budget = cog * ntap * nsz, _im2col.BLOCK_ELEMENTS
    one_image = _parallel.blas_product(cig, cog * ntap, nsz)
    share = 1 if _parallel.in_order(one_image) else _parallel.num_threads()
    blocks = image_blocks(n, g, per_image, size[0],
                          min(8 * budget, max(budget, n * per_image // share)), cig)
    big = max(((n1 - n0) * (r1 - r0) * rest for _, n0, n1, r0, r1 in blocks), default=0)
    threads = _parallel.pool_workers(len(blocks),
                                     blas_macs=_parallel.blas_product(cig, cog * ntap, big))
    # the weight gradient's products as (Cog*prodK, Cig) where that is the taller output
    flip = tall(cig, cog * ntap, _least_positions(blocks, rest))
    partials = _Partials(np.empty((g, *((cog * ntap, cig) if flip else (cig, cog * ntap))),
                                  dtype=dtype), threads)

    def run(block: tuple[int, int, int, int, int]) -> None:
        gi, n0, n1, r0, r1 = block
        cols = im2col(block)                               # (Cog*prodK, positions)
        nb = n1 - n0
        if nb == 1:
            matmul(wg[gi], cols, out=gx[gi, :, n0].reshape(cig, nsz)[:, r0 * rest:r1 * rest])
            # (Cig, positions) of x read in place
            pairs = [(xg[n0, gi][:, r0 * rest:r1 * rest], cols)]
        else:
            matmul(wg[gi], cols, out=gx[gi, :, n0:n1].reshape(cig, nb * nsz))
            if nsz >= PER_IMAGE_POSITIONS and cig >= cog * ntap:
                # one product per image, x read in place: no copy of x's block, which is at
                # least as large as the block's im2col here (C_in/g >= C_out/g * prod(K))
                pairs = [(xg[n, gi], cols[:, (n - n0) * nsz:(n - n0 + 1) * nsz])
                         for n in range(n0, n1)]
            else:
                xs = _parallel.scratch("xs", cig * nb * nsz, dtype).reshape(cig, nb, nsz)
                np.copyto(xs, xg[n0:n1, gi].swapaxes(0, 1))
                pairs = [(xs.reshape(cig, nb * nsz), cols)]
        for xs, cs in pairs:
            partials.add(gi, _product_nt(xs, cs, flip))

    _parallel.for_each(run, blocks, workers=threads)
    gw = partials.total()
    if flip:
        gw = gw.swapaxes(1, 2)
    return np.moveaxis(gx.reshape(c_in, n, *size), 1, 0), gw.reshape(c_in, cog, *p.kernel)


@_parallel.cached(maxsize=64)
def _gather_index(n: int, cog: int, size: tuple[int, ...], out: tuple[int, ...],
                  p: ConvParams) -> tuple[np.ndarray, int]:
    """The forward's index of each product number's output (:func:`gemm._scatter_index`),
    ordered ``(g, Cog*prodK, N, prodS)``: the windows of ``gy`` as both gradients' products
    read them, every image of a group side by side."""
    idx, total = gemm._scatter_index(n, cog, size, out, p)
    g, m = p.groups, cog * math.prod(p.kernel)
    return np.ascontiguousarray(idx.reshape(n, g, m, -1).transpose(1, 2, 0, 3)), total


def _transpose_gradients_gather(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams,
                                out: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Both gradients of a small ``y = conv_transpose(x, w)`` (batched, validated) in a few
    NumPy calls: the windows of ``gy`` each product number of the forward pass came from,
    gathered in one call through a remembered index (:func:`_gather_index`; a zero where a
    window leaves ``gy``), then one product a group for each gradient::

        cols[g, (c, t), (n, i)] = gy[n, g*Cog + c, i*s + t*d - pad_low]      (0 outside)
        grad_x[:, g] = w[g] @ cols[g]                 # (Cig, Cog*prodK) @ cols
        grad_w[g]    = x[:, g] @ cols[g].T            # (Cig, N*prodS) @ cols.T

    (what :func:`_transpose_gradients_gemm` computes, without its per-block planning)."""
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    nsz = math.prod(size)
    idx, total = _gather_index(n, cog, tuple(size), out, p)
    flat = np.empty(total + 1, dtype=gy.dtype)
    flat[:total] = gy.reshape(-1)
    flat[total] = 0
    cols = flat[idx].reshape(g, -1, n * nsz)
    xg = np.ascontiguousarray(x.reshape(n, g, cig, nsz).transpose(1, 2, 0, 3))
    # (NumPy's own loop, not BLAS, may run products this small: its FP warnings on inf and
    # NaN are not the caller's business -- the numbers are as BLAS's)
    # (matmul: a one-term product -- C_out/g * prod(K) == 1 for grad_x, N * prod(S) == 1
    # for grad_w -- is a broadcast multiply)
    with np.errstate(invalid="ignore", over="ignore"):
        gx = matmul(w.reshape(g, cig, -1), cols)                         # (g, Cig, N*S)
        gw = matmul(xg.reshape(g, cig, n * nsz), cols.swapaxes(1, 2))    # (g, Cig, Cog*K)
    gx = np.ascontiguousarray(gx.reshape(c_in, n, nsz).swapaxes(0, 1))
    return gx.reshape(x.shape), gw.reshape(w.shape)


def transpose_input_grad(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams,
                         ) -> np.ndarray:
    """``grad_x`` of ``y = conv_transpose(x, w)`` (batched, validated): the strided conv of
    ``gy`` -- compiled loops where :func:`tconv._algorithms.direct.preferred`, else im2col
    and matrix products."""
    size = tuple(x.shape[2:])
    if direct.preferred(x.shape, w.shape, p, gy.dtype):
        return direct.grad_input(gy, w, p, size)
    # the conv that transposes this op reads grad_out padded (low, high - output_padding)
    return conv_gemm(gy, w, p.stride, p.crop, p.dilation, p.groups, size)


def transpose_weight_grad(gy: np.ndarray, x: np.ndarray, w: np.ndarray, p: ConvParams,
                          ) -> np.ndarray:
    """``grad_w (C_in, C_out/g, *K)`` of ``y = conv_transpose(x, w)`` (batched, validated):
    compiled correlation sums (:func:`tconv._algorithms._cost.weight_sums`), else im2col
    and matrix products."""
    if _cost.weight_sums(x.shape, w.shape, p, dtype=x.dtype):
        return direct.grad_weight(x, gy, w.shape, p)
    # weight layout (C_in, C_out/g, *K) is the conv weight of grad_out -> x
    return _conv_weight_grad(x, gy, p.kernel, p.stride, p.crop, p.dilation, p.groups)


def _bias_grad(gy: np.ndarray) -> np.ndarray:
    """``grad_bias (C,)``: ``gy (N, C, *S)`` summed over all but the channels, as one
    ``einsum`` over ``(N, C, prod(S))`` (several times faster than NumPy's reduction over
    the axes ``(0, 2, ...)``; not a BLAS matrix-vector product, whose threads would keep
    spinning on the cores the next call's pool threads need)."""
    n, c = gy.shape[:2]
    return np.einsum("ncp->c", gy.reshape(n, c, math.prod(gy.shape[2:])))


def _prep(fn: str, grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.dtype]:
    ga = _checks.as_array(fn, "grad_out", grad_out)
    xa = _checks.as_array(fn, "input", x)
    wa = _checks.as_array(fn, "weight", weight)
    dtype = _checks.result_dtype(fn, ("grad_out", ga), ("input", xa), ("weight", wa))
    xb, batched = _checks.split_batch(fn, xa, wa)
    gb = ga if batched else ga[None]
    return gb.astype(dtype, copy=False), xb.astype(dtype, copy=False), \
        wa.astype(dtype, copy=False), batched, dtype


def _check_grad_shape(fn: str, shape: tuple[int, ...], want: tuple[int, ...], batched: bool
                      ) -> None:
    """``grad_out``'s batched ``shape`` is ``want`` (reported unbatched for unbatched calls)."""
    if tuple(shape) != want:
        shown = want if batched else want[1:]
        raise ValueError(f"{fn}: grad_out of shape {tuple(shape[0 if batched else 1:])} "
                         f"must have the output shape {shown}")


def conv_backward(grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike, stride: IntOrTuple = 1,
                  padding: PaddingArg = 0, dilation: IntOrTuple = 1, groups: int = 1,
                  ) -> tuple[Array, Array, Array]:
    """Gradients of ``y = conv(x, weight, bias, ...)`` with respect to x, weight and bias.

    The input gradient of a convolution IS a transposed convolution of ``grad_out`` with the
    same weight: many-to-one forwards, one-to-many backwards.

    Args:
        grad_out: ``dL/dy``, shape of ``conv(x, weight, ...)``.
        x: the input ``(N, C_in, *S_in)`` (or unbatched).
        weight: ``(C_out, C_in/groups, *K)``.
        stride, padding, dilation, groups: as in :func:`tconv.conv`.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` with the shapes of x, weight and ``(C_out,)``.

    Shape:
        ``grad_x = conv_transpose(grad_out, weight, stride, padding, output_padding)``
        where ``output_padding`` restores ``S_in`` (the rows a strided conv skipped get 0).

    Raises:
        ValueError, TypeError: as :func:`tconv.conv`, or when grad_out has the wrong shape.

    Examples:
        >>> import numpy as np
        >>> x, w = np.arange(16.).reshape(1, 1, 4, 4), np.ones((1, 1, 3, 3))
        >>> gx, gw, gb = conv_backward(np.ones((1, 1, 2, 2)), x, w)
        >>> gx[0, 0]
        array([[1., 2., 2., 1.],
               [2., 4., 4., 2.],
               [2., 4., 4., 2.],
               [1., 2., 2., 1.]])
        >>> gw[0, 0], gb
        (array([[10., 14., 18.],
               [26., 30., 34.],
               [42., 46., 50.]]), array([4.]))
    """
    fn = "conv_backward"
    gy, xb, w, batched, _ = _prep(fn, grad_out, x, weight)
    p = _checks.conv_params(fn, x_shape=xb.shape, weight_shape=tuple(w.shape), bias_shape=None,
                            stride=stride, padding=padding, dilation=dilation, groups=groups,
                            transposed=False)
    size = xb.shape[2:]
    out = p.conv_size(size)
    _check_grad_shape(fn, gy.shape, (xb.shape[0], w.shape[0], *out), batched)
    # grad_x: the transposed conv of grad_out, cropped by the conv's padding; output_padding
    # restores the input rows the strided conv never read
    op = tuple(i - m for i, m in zip(size, p.transposed_size(out)))
    pt = ConvParams(p.kernel, p.stride, p.pad, p.dilation, p.groups, op)
    gx = gemm.conv_transpose(gy, w, pt, tuple(size))
    gw = _conv_weight_grad(gy, xb, p.kernel, p.stride, p.pad, p.dilation, p.groups)
    gb = _bias_grad(gy)
    return (gx if batched else gx[0]), gw, gb


def _backward_key(grad_out: object, x: object, weight: object, args: tuple) -> tuple | None:
    """The arguments of :func:`_planned_backward` for float32/64 arrays of one dtype whose
    ranks fit and plain arguments, else None: those calls are checked on every call."""
    if type(grad_out) is not np.ndarray or type(x) is not np.ndarray \
            or type(weight) is not np.ndarray:
        return None
    dtype = x.dtype
    if (dtype not in (_checks._F32, _checks._F64) or weight.dtype != dtype
            or grad_out.dtype != dtype or weight.ndim not in (3, 4, 5)
            or x.ndim not in (weight.ndim - 1, weight.ndim) or grad_out.ndim != x.ndim
            or not _plain(args)):
        return None
    return (grad_out.shape, x.shape, weight.shape, dtype, args, _cost.constants(),
            _native.available())


@_parallel.cached(maxsize=256)
def _planned_backward(gy_shape: tuple[int, ...], x_shape: tuple[int, ...],
                      w_shape: tuple[int, ...], dtype: np.dtype, args: tuple,
                      c: _cost.Constants, compiled: bool
                      ) -> tuple[ConvParams, _cost.Decision, bool]:
    """:func:`_backward_plan` of arrays of these shapes and one float dtype, remembered;
    an invalid call raises and is not remembered."""
    batched = len(x_shape) == len(w_shape)
    if not batched:
        gy_shape, x_shape = (1, *gy_shape), (1, *x_shape)
    return (*_backward_plan(gy_shape, x_shape, w_shape, dtype, batched, args, c, compiled),
            batched)


_cost._DEPENDENT_CACHES.append(_planned_backward)


def _backward_plan(gy_shape: tuple[int, ...], x_shape: tuple[int, ...],
                   w_shape: tuple[int, ...], dtype: np.dtype, batched: bool, args: tuple,
                   c: _cost.Constants, compiled: bool
                   ) -> tuple[ConvParams, _cost.Decision]:
    """The checked parameters of a ``conv_transpose_backward`` call with batched shapes,
    after the check of ``grad_out``'s shape, and the cost model's decision."""
    fn = "conv_transpose_backward"
    p, out = transposed_params(fn, tuple(x_shape), tuple(w_shape), None, *args)
    _check_grad_shape(fn, gy_shape, (x_shape[0], w_shape[1] * p.groups, *out), batched)
    return p, _cost.decide(x_shape, w_shape, p, dtype, c, compiled)


def conv_transpose_backward(grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike,
                            stride: IntOrTuple = 1, padding: PaddingArg = 0,
                            output_padding: IntOrTuple = 0, groups: int = 1,
                            dilation: IntOrTuple = 1, *, output_size: IntOrTuple | None = None,
                            ) -> tuple[Array, Array, Array]:
    """Gradients of ``y = conv_transpose(x, weight, bias, ...)`` w.r.t. x, weight and bias.

    The input gradient of a transposed convolution IS a (strided) convolution of
    ``grad_out`` with the same weight: one-to-many forwards, many-to-one backwards.

    Args:
        grad_out: ``dL/dy``, shape of ``conv_transpose(x, weight, ...)``.
        x: the input ``(N, C_in, *S_in)`` (or unbatched).
        weight: ``(C_in, C_out/groups, *K)``.
        stride, padding, output_padding, groups, dilation, output_size: as in
            :func:`tconv.conv_transpose`.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` with the shapes of x, weight and ``(C_out,)``.

    Shape:
        ``grad_x = conv(grad_out, weight, stride, padding, dilation, groups)`` (its output
        has exactly ``S_in`` positions; ``output_padding`` rows are never read).

    Raises:
        ValueError, TypeError: as :func:`tconv.conv_transpose`, or for a wrong grad_out shape.

    Examples:
        >>> import numpy as np
        >>> x, w = np.arange(1., 5.).reshape(1, 1, 2, 2), np.ones((1, 1, 3, 3))
        >>> gx, gw, gb = conv_transpose_backward(np.ones((1, 1, 4, 4)), x, w)
        >>> gx[0, 0], gw[0, 0, 0], gb
        (array([[9., 9.],
               [9., 9.]]), array([10., 10., 10.]), array([16.]))
    """
    fn = "conv_transpose_backward"
    args = (stride, padding, output_padding, groups, dilation, output_size)
    key = _backward_key(grad_out, x, weight, args)
    if key is not None:                     # float32/64 arrays and plain arguments
        p, decision, batched = _planned_backward(*key)
        w = cast(np.ndarray, weight)
        gy, xb = cast(np.ndarray, grad_out), cast(np.ndarray, x)
        if not batched:
            gy, xb = gy[None], xb[None]
    else:
        gy, xb, w, batched, _ = _prep(fn, grad_out, x, weight)
        p, decision = _backward_plan(gy.shape, xb.shape, w.shape, xb.dtype, batched, args,
                                     _cost.constants(), _native.available())
    if decision.gather:
        # a small layer: the windows of grad_out gathered in one call, two batched products
        gx, gw = _transpose_gradients_gather(gy, xb, w, p, tuple(gy.shape[2:]))
    elif depthwise.backward_preferred(xb.shape, w.shape, p):
        # depthwise: both gradients from one pass over the phases of grad_out
        gx, gw = depthwise.backward(gy, xb, w, p)
    elif decision.weight_sums:
        # both gradients compiled, reading the same polyphase planes of grad_out: split once
        planes = direct.planes(gy, p, tuple(xb.shape[2:]))
        gx = direct.grad_input(gy, w, p, tuple(xb.shape[2:]), planes)
        gw = direct.grad_weight(xb, gy, w.shape, p, planes)
    elif decision.shared_im2col:
        # both by im2col + BLAS: one im2col of grad_out a block, read by both products
        gx, gw = _transpose_gradients_gemm(gy, xb, w, p)
    else:
        # each gradient by its own rule of the cost model (compiled loops, or im2col + BLAS)
        gx, gw = transpose_input_grad(gy, xb, w, p), transpose_weight_grad(gy, xb, w, p)
    gb = _bias_grad(gy)
    return (gx if batched else gx[0]), gw, gb
