"""conv_transpose as one matrix product followed by col2im.

    cols[g, c_out*K, n*S_in] = weight[g].T @ x[g]          (every useful multiply, once)
    y[..., t*d + i*s - pad_low] += cols[..., t, i]         (prod(K) strided block adds)

The matrix product does exactly the useful multiply-adds; col2im is a sum of prod(K)
strided slices, never an element-wise scatter.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import ConvParams
from ._im2col import block_slices


def conv_transpose(x: np.ndarray, w: np.ndarray, p: ConvParams, out: tuple[int, ...]
                   ) -> np.ndarray:
    n, c_in, *size = x.shape
    nd, g = p.ndim, p.groups
    cig, cog = c_in // g, w.shape[1]
    # x: (N, g, Cig, *S) -> (g, Cig, N*prodS)
    xg = np.moveaxis(x.reshape(n, g, cig, -1), 0, 2).reshape(g, cig, -1)
    wg = w.reshape(g, cig, cog * int(np.prod(p.kernel)))
    cols = np.matmul(wg.transpose(0, 2, 1), xg)             # (g, Cog*prodK, N*prodS)
    cols = cols.reshape(g, cog, *p.kernel, n, *size)
    y = np.zeros((n, g, cog, *out), dtype=x.dtype)
    ymove = np.moveaxis(y, 0, 2)                            # (g, Cog, N, *out) view
    for t in itertools.product(*(range(k) for k in p.kernel)):
        src, dst = [], []
        for a in range(nd):
            sl = block_slices(t[a] * p.dilation[a] - p.pad_lo[a], size[a], p.stride[a],
                              0, out[a])
            if sl is None:
                break
            src.append(sl[0])
            dst.append(sl[1])
        else:
            ymove[(slice(None), slice(None), slice(None), *dst)] += \
                cols[(slice(None), slice(None), *t, slice(None), *src)]
    return y.reshape(n, g * cog, *out)
