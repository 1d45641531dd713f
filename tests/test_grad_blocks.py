"""The weight gradient's blocks: per-thread partial sums (the first product of a group writes
a partial, later ones add) give the same gradient at any thread count, block size and group
count -- against an einsum over the explicit windows (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import grad
from tconv._algorithms import _im2col


def _reference(gy, x, kernel, stride, pad, dilation, groups):
    n, c_out, *out = gy.shape
    cig = x.shape[1] // groups
    win = _im2col.windows(_im2col.group_view(_im2col.pad_crop(x, pad), groups), kernel,
                          stride, dilation, out)                   # (N, g, Cig, *out, *K)
    gyg = gy.reshape(n, groups, c_out // groups, -1)
    winf = win.reshape(n, groups, cig, gyg.shape[-1], -1)
    return np.einsum("ngop,ngcpk->gock", gyg, winf).reshape(c_out, cig, *kernel)


CASES = [
    # (gy shape, x shape, kernel, stride, pad, dilation, groups)
    ((7, 6, 5, 5), (7, 4, 11, 11), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 2),
    ((5, 3, 40), (5, 6, 83), (5,), (2,), ((1, 2),), (1,), 3),
    ((9, 4, 3, 3, 3), (9, 2, 6, 6, 6), (2, 2, 2), (2, 2, 2), ((0, 0),) * 3, (1, 1, 1), 1),
    ((1, 8, 30, 30), (1, 8, 32, 32), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 4),
    ((3, 2, 1, 1), (3, 5, 4, 4), (4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),   # one position
    ((2, 512, 1, 1), (2, 64, 4, 4), (4, 4), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),  # K == 1 rows
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("budget", [1 << 20, 64])
def test_blocks(case, threads, budget, monkeypatch):
    gy_shape, x_shape, kernel, stride, pad, dilation, groups = case
    rng = np.random.default_rng(sum(gy_shape) + threads)
    gy, x = rng.standard_normal(gy_shape), rng.standard_normal(x_shape)
    monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", budget)      # many blocks, row ranges
    tconv.set_num_threads(threads)
    try:
        got = grad._conv_weight_grad(gy, x, kernel, stride, pad, dilation, groups)
    finally:
        tconv.set_num_threads(None)
    np.testing.assert_allclose(got, _reference(gy, x, kernel, stride, pad, dilation, groups),
                               rtol=1e-11, atol=1e-11)


def test_empty_batch_gives_zero_gradient():
    gy, x = np.zeros((0, 4, 3, 3)), np.zeros((0, 2, 5, 5))
    got = grad._conv_weight_grad(gy, x, (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 2)
    np.testing.assert_array_equal(got, np.zeros((4, 1, 3, 3)))
