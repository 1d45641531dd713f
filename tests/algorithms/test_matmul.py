"""``_matmul.matmul``: NumPy's product for every algorithm, including an ``Im2col`` operand
(the windows of a padded input, named by offsets), which it makes dense first."""

from __future__ import annotations

import numpy as np
import pytest

from tconv._algorithms import _im2col, _matmul


class TestMatmul:
    @pytest.mark.parametrize("shape_a, shape_b", [((5, 7), (7, 3)), ((2, 5, 7), (2, 7, 3)),
                                                  ((5, 7), (2, 7, 3))])
    def test_oracle(self, shape_a, shape_b):
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        np.testing.assert_array_equal(_matmul.matmul(a, b), np.matmul(a, b))
        out = np.empty(np.broadcast_shapes(shape_a[:-1] + (3,), shape_b[:-2] + (5, 3)))
        assert _matmul.matmul(a, b, out=out) is out
        np.testing.assert_array_equal(out, np.matmul(a, b))

    def test_implicit_never_applies(self):
        # NumPy's product takes no implicit operand: callers copy the windows
        assert not _matmul.implicit_applies(512, 512, 512, np.dtype(np.float32))


@pytest.mark.parametrize("ndim, k, s, d, pad, g", [
    (2, 4, 2, 1, ((1, 1), (1, 1)), 1),          # DCGAN's input gradient
    (2, 3, 1, 2, ((2, 0), (1, 2)), 2),          # dilation, uneven padding, groups
    (2, 2, 2, 1, ((0, -1), (-1, 0)), 1),        # negative padding: a crop
    (1, 5, 3, 1, ((2, 2),), 1),
    (3, 2, 2, 1, ((0, 0),) * 3, 1),
])
def test_implicit_im2col(ndim, k, s, d, pad, g):
    """``Im2col`` offsets name the same matrix as the copied im2col block, and a product
    with it equals the product with the copy."""
    rng = np.random.default_rng(9)
    size = {1: (23,), 2: (11, 9), 3: (6, 5, 7)}[ndim]
    x = rng.standard_normal((3, 4 * g, *size))
    stride, dil = (s,) * ndim, (d,) * ndim
    out = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1 for n, (lo, hi) in zip(size, pad))
    xp = _im2col.pad_crop(x, pad)
    b = _im2col.implicit_im2col(xp, g - 1, 4, (k,) * ndim, stride, dil, out)
    win = _im2col.windows(_im2col.group_view(xp, g), (k,) * ndim, stride, dil, out)
    dense = _im2col.im2col_block(win, (g - 1, 0, 3, 0, out[0]))
    np.testing.assert_array_equal(b.dense(), dense)
    left = rng.standard_normal((6, dense.shape[0]))
    np.testing.assert_allclose(_matmul.matmul(left, b), left @ dense, rtol=1e-12)
    bt = _im2col.implicit_im2col(xp, g - 1, 4, (k,) * ndim, stride, dil, out, transposed=True)
    np.testing.assert_array_equal(bt.dense(), dense.T)
