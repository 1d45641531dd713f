"""conv_transpose as one matrix product followed by col2im.

    cols[g, c_out*K, n*S_in] = weight[g].T @ x[g]          (every useful multiply, once)
    y[..., t*d + i*s - pad_low] += cols[..., t, i]         (prod(K) strided block adds)

The matrix product does exactly the useful multiply-adds; col2im is a sum of prod(K)
strided slices, never an element-wise scatter.

Blocking: ``cols`` is ``prod(K)`` times the input and does not fit in cache (a DCGAN layer:
64 MB), and a fresh array that large costs a page fault per 4 KiB on first touch. So the
product runs in blocks of whole images (and, if one image is still too big, of output
channels) into one reused buffer of about :data:`BLOCK_ELEMENTS` numbers, and each block
is added into ``y`` while it is still in cache::

    for (n0:n1, c0:c1) in blocks:   buf = wT[c0:c1] @ x[:, n0:n1]   ;   y[n0:n1, c0:c1] += col2im(buf)
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import ConvParams
from ._im2col import block_slices

#: numbers in the reused product buffer (4 MiB of float32: fits the L3 cache of small CPUs)
BLOCK_ELEMENTS = 1 << 20


def _tap_slices(p: ConvParams, size: tuple[int, ...], out: tuple[int, ...],
                ) -> list[tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]]:
    """``(t, source, destination)`` per kernel tap that lands inside the output."""
    res = []
    for t in itertools.product(*(range(k) for k in p.kernel)):
        src, dst = [], []
        for a in range(p.ndim):
            sl = block_slices(t[a] * p.dilation[a] - p.pad_lo[a], size[a], p.stride[a],
                              0, out[a])
            if sl is None:
                break
            src.append(sl[0])
            dst.append(sl[1])
        else:
            res.append((t, tuple(src), tuple(dst)))
    return res


def _blocks(n: int, cog: int, per_image_channel: int) -> tuple[int, int]:
    """Images and output channels per block so the product buffer stays near the budget."""
    per_image = cog * per_image_channel
    if per_image <= BLOCK_ELEMENTS:
        return max(1, min(n, BLOCK_ELEMENTS // per_image)), cog
    return 1, max(1, min(cog, BLOCK_ELEMENTS // per_image_channel))


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds :func:`conv_transpose` performs: the one product, every tap of every
    input (``N * C_in * C_out/g * prod(S_in) * prod(K)``)."""
    return int(np.prod(x_shape, dtype=np.int64)) * int(np.prod(w_shape[1:], dtype=np.int64))


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    n, c_in, *size = x.shape
    g = p.groups
    cig, cog = c_in // g, w.shape[1]
    ntap, nsz = int(np.prod(p.kernel)), int(np.prod(size))
    # x: (N, g, Cig, *S) -> (g, Cig, N*prodS): one copy unless N == 1
    xg = np.moveaxis(x.reshape(n, g, cig, nsz), 0, 2).reshape(g, cig, n * nsz)
    wt = w.reshape(g, cig, cog * ntap).transpose(0, 2, 1)   # (g, Cog*prodK, Cig) view
    taps = _tap_slices(p, tuple(size), out)
    # no two taps overlap when the footprint fits in one stride: plain copies, no sums
    overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(p.stride, p.dilation, p.kernel))
    y = np.zeros((n, g, cog, *out), dtype=x.dtype)
    nb, cb = _blocks(n, cog, ntap * nsz)
    buf = np.empty(min(cb * ntap * nb * nsz, cog * ntap * n * nsz), dtype=x.dtype)
    for gi in range(g):
        for c0 in range(0, cog, cb):
            c1 = min(cog, c0 + cb)
            for n0 in range(0, n, nb):
                n1 = min(n, n0 + nb)
                cols = buf[:(c1 - c0) * ntap * (n1 - n0) * nsz].reshape(
                    (c1 - c0) * ntap, (n1 - n0) * nsz)
                np.matmul(wt[gi, c0 * ntap:c1 * ntap], xg[gi, :, n0 * nsz:n1 * nsz], out=cols)
                cols6 = cols.reshape(c1 - c0, *p.kernel, n1 - n0, *size)
                yb = y[n0:n1, gi, c0:c1].swapaxes(0, 1)          # (Cb, Nb, *out) view
                for t, src, dst in taps:
                    part = cols6[(slice(None), *t, slice(None), *src)]
                    if overlap:
                        yb[(slice(None), slice(None), *dst)] += part
                    else:
                        yb[(slice(None), slice(None), *dst)] = part
    return y.reshape(n, g * cog, *out)
