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
    n, c_in, *size = x.shape
    g = p.groups
    cog = w.shape[1]
    y = np.zeros((n, g, cog, *out), dtype=x.dtype)
    xg = group_view(x, g)                                   # (N, g, Cig, *S_in)
    wg = w.reshape(g, c_in // g, cog, *p.kernel)            # (g, Cig, Cog, *K)
    for i in itertools.product(*(range(s) for s in size)):
        # footprint of input position i: (N, g, Cog, *K) -- one value times the kernel
        foot = np.einsum("ngc,gco...->ngo...", xg[(Ellipsis, *i)], wg)
        src, dst = [], []
        for a in range(p.ndim):
            sl = block_slices(i[a] * p.stride[a] - p.pad_lo[a], p.kernel[a], p.dilation[a],
                              0, out[a])
            if sl is None:
                break
            src.append(sl[0])
            dst.append(sl[1])
        else:
            y[(Ellipsis, *dst)] += foot[(Ellipsis, *src)]
    return y.reshape(n, g * cog, *out)
