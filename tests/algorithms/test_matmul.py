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


@pytest.mark.parametrize("shape_a, shape_b", [
    ((64, 64), (64, 200)),            # N longer: column pieces
    ((300, 48), (48, 40)),            # M longer: row pieces
    ((3, 64, 64), (3, 64, 100)),      # batched, each item cut
    ((64, 64), (2, 64, 100)),         # broadcast batch
    ((128, 2048), (2048, 3)),         # K * min(M, N) within one piece's budget
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pieces_equal_the_whole_product(shape_a, shape_b, dtype):
    """Products BLAS would thread are cut into single-thread pieces: same shape, dtype and
    numbers (each output is still one dot product over all of K)."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    assert m * k * n > _matmul.BLAS_SINGLE_MACS
    want = np.matmul(a, b)
    got = _matmul._in_pieces(a, b, None)
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(_matmul.matmul(a, b), want, rtol=tol,
                               atol=tol * np.abs(want).max())
    # into a strided view of a larger array
    big = np.full((*want.shape[:-1], want.shape[-1] * 2), np.nan, dtype=dtype)
    view = big[..., ::2]
    assert _matmul.matmul(a, b, out=view) is view
    np.testing.assert_allclose(view, want, rtol=tol, atol=tol * np.abs(want).max())
    assert np.isnan(big[..., 1::2]).all()


def test_worker_products_cut(monkeypatch):
    """From an item of ``for_each`` running on several threads (the caller's share or a
    pool thread's) a product a threaded BLAS would thread is cut; anywhere else, or with a
    one-thread BLAS, it is one call."""
    from tconv._algorithms import _parallel

    calls = []
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)   # a threaded BLAS
    monkeypatch.setattr(_matmul, "_in_pieces",
                        lambda a, b, out: calls.append(_parallel.in_worker())
                        or np.matmul(a, b, out=out))
    for shape_a, shape_b in (((256, 128), (128, 256)), ((64, 64), (64, 200))):
        a, b = np.ones(shape_a), np.ones(shape_b)
        _matmul.matmul(a, b)
        _parallel.for_each(lambda _, a=a, b=b: _matmul.matmul(a, b), [0, 1], workers=1)
        assert calls == []
        _parallel.for_each(lambda _, a=a, b=b: _matmul.matmul(a, b), [0, 1], workers=2)
        assert calls == [True, True]
        calls.clear()
    small = np.ones((8, 8))                     # within one piece: never cut
    _parallel.for_each(lambda _: _matmul.matmul(small, small), [0, 1], workers=2)
    assert calls == []
    # a one-thread BLAS has no threads to contend: whole products, even on the pool
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 1)
    a, b = np.ones((256, 128)), np.ones((128, 256))
    _parallel.for_each(lambda _: _matmul.matmul(a, b), [0, 1], workers=2)
    assert calls == []


def _pieces_one_by_one(a, b):
    """The reference cut: each piece its own ``np.matmul``, as :func:`_matmul._in_pieces`
    documents them (column pieces where ``N >= M``, else row pieces)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    a, b = np.broadcast_to(a, (*batch, m, k)), np.broadcast_to(b, (*batch, k, n))
    out = np.empty((*batch, m, n), dtype=np.result_type(a, b))
    for idx in np.ndindex(*batch):
        if n >= m:
            step = max(1, _matmul.BLAS_SINGLE_MACS // (m * k))
            for j in range(0, n, step):
                out[idx][:, j:j + step] = np.matmul(a[idx], b[idx][:, j:j + step])
        else:
            step = max(1, _matmul.BLAS_SINGLE_MACS // (n * k))
            for i in range(0, m, step):
                out[idx][i:i + step] = np.matmul(a[idx][i:i + step], b[idx])
    return out


def test_pieces_batched_equal_pieces_one_by_one():
    """The pieces run as one batched product over a strided view: every piece is the same
    BLAS call as on its own -- the same bits -- over seeded shapes (either cut, pieces that
    divide the side or leave a shorter last one, batches, broadcasting, transposed
    operands, strided ``out``)."""
    rng = np.random.default_rng(77)
    for case in range(60):
        dtype = (np.float32, np.float64)[case % 2]
        m, k, n = (int(v) for v in rng.integers(1, 300, size=3))
        k = int(rng.integers(1, 200))
        if m * k * n <= _matmul.BLAS_SINGLE_MACS:
            n = _matmul.BLAS_SINGLE_MACS // (m * k) + int(rng.integers(1, 500))
        batch_a = tuple(int(v) for v in rng.integers(1, 3, size=int(rng.integers(0, 3))))
        batch_b = batch_a if rng.integers(2) else (1,) * len(batch_a)
        a = rng.standard_normal((*batch_a, m, k)).astype(dtype)
        b = rng.standard_normal((*batch_b, k, n)).astype(dtype)
        if case % 5 == 0:                               # a transposed operand
            a = np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
        want = _pieces_one_by_one(a, b)
        np.testing.assert_array_equal(_matmul._in_pieces(a, b, None), want)
        big = np.full((*want.shape[:-1], 2 * want.shape[-1]), np.nan, dtype=dtype)
        view = big[..., ::2]
        assert _matmul._in_pieces(a, b, view) is view
        np.testing.assert_array_equal(view, want)
        assert np.isnan(big[..., 1::2]).all()
