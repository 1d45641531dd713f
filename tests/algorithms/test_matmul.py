"""``_matmul.matmul``: NumPy's product for every algorithm; an outer product (one inner term)
as a broadcast multiply, with the same shapes, broadcasting, ``out`` and values."""

from __future__ import annotations

import numpy as np
import pytest

from tconv._algorithms import _matmul


@pytest.mark.parametrize("shape_a, shape_b", [
    ((5, 7), (7, 3)), ((2, 5, 7), (2, 7, 3)), ((5, 7), (2, 7, 3)),
    ((5, 1), (1, 3)), ((2, 5, 1), (2, 1, 3)), ((5, 1), (4, 1, 3)), ((3, 1, 5, 1), (2, 1, 4)),
    ((0, 1), (1, 3)), ((5, 1), (1, 0)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_oracle(shape_a, shape_b, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    want = np.matmul(a, b)
    got = _matmul.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    out = np.empty_like(want)
    assert _matmul.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, want)


def test_outer_product_non_finite():
    """One term: inf * 0 is nan and nan propagates, as in the BLAS product."""
    a = np.array([[np.inf], [np.nan], [1.0]])
    b = np.array([[0.0, 2.0]])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(_matmul.matmul(a, b), np.matmul(a, b))


def test_vectors_keep_matmul_semantics():
    a, b = np.arange(3.0), np.arange(3.0)
    assert _matmul.matmul(a, b) == np.matmul(a, b)
    m = np.arange(3.0).reshape(3, 1)
    np.testing.assert_array_equal(_matmul.matmul(m, np.ones(1)), np.matmul(m, np.ones(1)))
