"""conv_transpose by its one-to-many definition (the reference implementation).

Each input element ``x[n, c_in, i]`` adds ``x * weight[c_in, :, t]`` to the outputs
``i*stride + t*dilation - pad_low`` -- the article's "one input value feeds 9 outputs".
Obviously correct and slow: one Python iteration per input position.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import ConvParams
from ._im2col import block_slices, group_view


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    # einsum may reduce a zero-stride (broadcast) operand in another way than a sum of
    # products (inf and -inf channels gave -inf, not nan): reduce real copies
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    n, c_in, *size = x.shape
    g = p.groups
    cog = w.shape[1]
    y = np.zeros((n, g, cog, *out), dtype=x.dtype)
    xg = group_view(x, g)                                   # (N, g, Cig, *S_in)
    wg = w.reshape(g, c_in // g, cog, *p.kernel)            # (g, Cig, Cog, *K)
    for i in itertools.product(*(range(s) for s in size)):
        src, dst = [], []
        for a in range(p.ndim):
            sl = block_slices(i[a] * p.stride[a] - p.pad_lo[a], p.kernel[a], p.dilation[a],
                              0, out[a])
            if sl is None:
                break
            src.append(sl[0])
            dst.append(sl[1])
        else:
            # footprint of input position i, the taps inside the output only:
            # (N, g, Cog, *K') -- one value times (part of) the kernel
            foot = np.einsum("ngc,gco...->ngo...", xg[(Ellipsis, *i)],
                             wg[(Ellipsis, *src)])
            y[(Ellipsis, *dst)] += foot
    return y.reshape(n, g * cog, *out)


def macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
         out: tuple[int, ...]) -> int:
    """Multiply-adds :func:`conv_transpose` performs: the useful ones, every (input, tap)
    pair whose output lands inside the (cropped) output -- see :func:`useful_macs`."""
    return useful_macs(x_shape, w_shape, p, out)


def useful_macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                out: tuple[int, ...]) -> int:
    """``N * C_in * C_out/g`` times the (input position, tap) pairs landing in the output.

    Without cropping this is ``N * C_in * C_out/g * prod(S_in) * prod(K)``; padding removes
    the taps that fall outside. Computed per spatial dim (the count factorises).
    """
    n, c_in, *size = x_shape
    pairs = 1
    for a in range(p.ndim):
        i = np.arange(size[a])[:, None]
        t = np.arange(p.kernel[a])[None, :]
        o = i * p.stride[a] + t * p.dilation[a] - p.pad_lo[a]
        pairs *= int(((o >= 0) & (o < out[a])).sum())
    return n * c_in * w_shape[1] * pairs
