"""``_matmul.matmul``: NumPy's product, or the compiled float32 product (``sgemm``) where
the BLAS lacks the processor's AVX-512 kernels. The compiled product is checked against a
float64 product on every layout it reads (rows, columns, sliced views, batches), on blocks
cut small enough that every edge and every block boundary is crossed."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from tconv._algorithms import _matmul, _native

needs_numba = pytest.mark.skipif(not _native.available(), reason="numba not installed")


def _operand(rng: np.random.Generator, shape: tuple[int, int], layout: str) -> np.ndarray:
    """A float32 operand of ``shape`` in the given memory layout: rows contiguous ("C"),
    columns contiguous ("F"), or a strided view of a larger array ("view")."""
    a = rng.standard_normal(shape).astype(np.float32)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "view":
        big = np.zeros((shape[0] * 2, shape[1] + 7), np.float32)
        big[::2, 3:3 + shape[1]] = a
        return big[::2, 3:3 + shape[1]]
    return a


def _no_size_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled product for products of any size (small ones make quick tests)."""
    for name in ("NATIVE_MIN_MACS", "NATIVE_MIN_SIDE", "NATIVE_MIN_TERMS",
                 "NATIVE_MIN_SIDE_SPLIT", "NATIVE_MIN_TERMS_SPLIT"):
        monkeypatch.setattr(_matmul, name, 0)


def _reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a.astype(np.float64), b.astype(np.float64))


class TestSgemm:
    """The compiled kernel itself (``_matmul._sgemm``), whatever the dispatch decides."""

    @needs_numba
    def test_smoke(self):
        rng = np.random.default_rng(0)
        a, b = _operand(rng, (12, 32), "C"), _operand(rng, (32, 32), "C")
        c = np.empty((12, 32), np.float32)
        _matmul._sgemm(a, b, c)
        assert_close(c, _reference(a, b), np.float32)

    @needs_numba
    @settings(max_examples=60, deadline=None)
    @given(m=st.integers(1, 70), k=st.integers(1, 90), n=st.integers(1, 110),
           la=st.sampled_from(["C", "F", "view"]), lb=st.sampled_from(["C", "F", "view"]),
           blocks=st.sampled_from([(16, 12, 32), (7, 24, 64), (512, 96, 2048)]),
           seed=st.integers(0, 2**16))
    def test_oracle(self, m, k, n, la, lb, blocks, seed):
        """Any sizes (edges of the 12 x 32 register block), layouts and blockings: small
        blocks put every size across several K, M and N blocks."""
        rng = np.random.default_rng(seed)
        a, b = _operand(rng, (m, k), la), _operand(rng, (k, n), lb)
        c = np.full((m, n + 5), np.nan, np.float32)[:, 2:2 + n]   # rows ldc apart
        _matmul._sgemm(a, b, c, *blocks)
        assert_close(c, _reference(a, b), np.float32)

    @needs_numba
    def test_row_stride_multiple_of_4k(self):
        """B's rows 4096 bytes apart (power-of-two widths) are copied into panels, not read
        in place: both paths give the product."""
        rng = np.random.default_rng(1)
        for width in (1024, 1000):
            a, b = _operand(rng, (30, 40), "C"), _operand(rng, (40, width), "C")
            c = np.empty((30, width), np.float32)
            _matmul._sgemm(a, b, c, 16, 12, 256)
            assert_close(c, _reference(a, b), np.float32)

    @needs_numba
    def test_nonfinite(self):
        """inf and NaN reach exactly the outputs they reach in NumPy's product; the zero
        rows and columns that pad edge blocks never turn into NaN outputs."""
        rng = np.random.default_rng(2)
        a, b = _operand(rng, (13, 9), "C"), _operand(rng, (9, 33), "C")
        a[3, 4] = np.inf
        b[2, 32] = np.nan
        c = np.empty((13, 33), np.float32)
        _matmul._sgemm(a, b, c)
        want = _reference(a, b)
        np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(c), np.isinf(want))
        finite = np.isfinite(want)
        assert_close(c[finite], want[finite], np.float32)


class TestMatmul:
    """The dispatching front door used by every algorithm."""

    @pytest.fixture
    def native(self, monkeypatch):
        if not _native.available():
            pytest.skip("numba not installed")
        monkeypatch.setenv("TCONV_GEMM", "native")
        _no_size_rules(monkeypatch)

    @pytest.mark.parametrize("threads", ["1", "2", "3"])
    @pytest.mark.parametrize("shape_a, shape_b", [
        ((70, 50), (50, 45)),            # more rows than columns: rows split over threads
        ((20, 50), (50, 130)),           # columns split over threads
        ((3, 20, 50), (3, 50, 40)),      # a batch
        ((20, 50), (4, 50, 40)),         # one left operand for a batch of right ones
        ((4, 20, 50), (50, 40)),
    ])
    def test_oracle(self, native, threads, shape_a, shape_b, monkeypatch):
        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        rng = np.random.default_rng(3)
        a = rng.standard_normal(shape_a).astype(np.float32)
        b = rng.standard_normal(shape_b).astype(np.float32)
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert_close(_matmul.matmul(a, b), want, np.float32)
        out = np.empty(want.shape, np.float32)
        assert _matmul.matmul(a, b, out=out) is out
        assert_close(out, want, np.float32)

    @pytest.mark.parametrize("threads", ["1", "2"])
    @pytest.mark.parametrize("m, k, n", [(70, 50, 45), (20, 50, 130), (37, 3, 300)])
    def test_identity_packed(self, native, threads, m, k, n, monkeypatch):
        """Operands packed ahead (left, right, both) give the product of the arrays, also
        when the product is split over threads (the panels are then read from an offset)."""
        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        rng = np.random.default_rng(7)
        a, b = _operand(rng, (m, k), "F"), _operand(rng, (k, n), "view")
        want = _reference(a, b)
        pa, pb = _matmul.pack_left(a, n), _matmul.pack_right(b, m)
        assert isinstance(pa, _matmul.Packed) and isinstance(pb, _matmul.Packed)
        for left, right in [(pa, b), (a, pb), (pa, pb)]:
            assert_close(_matmul.matmul(left, right), want, np.float32)

    def test_pack_each(self, native, monkeypatch):
        """Up to ``PACK_MAX`` operands are packed, each in its own buffer; more are not."""
        rng = np.random.default_rng(8)
        mats = [_operand(rng, (30, 20), "C") for _ in range(3)]
        b = _operand(rng, (20, 40), "C")
        packed = _matmul.pack_each(mats, 40, "left")
        assert all(isinstance(p, _matmul.Packed) for p in packed)
        for p, a in zip(packed, mats):
            assert_close(_matmul.matmul(p, b), _reference(a, b), np.float32)
        monkeypatch.setattr(_matmul, "PACK_MAX", 2)
        assert _matmul.pack_each(mats, 40, "left") == mats

    @pytest.mark.parametrize("threads", ["1", "2"])
    def test_identity_packed_implicit(self, native, threads, monkeypatch):
        """An implicit right operand (``Im2col``: a transposed layout of an array) packed
        without a copy of that layout; and the dense matrix where NumPy's product runs."""
        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        rng = np.random.default_rng(10)
        w = rng.standard_normal((20, 7, 5)).astype(np.float32)      # (K, C, T)
        b = _matmul.Im2col(w.reshape(-1), np.arange(20) * 35,
                           np.add.outer(np.arange(5), np.arange(7) * 5).ravel())
        dense = w.transpose(0, 2, 1).reshape(20, 35)                  # (K, (T, C))
        np.testing.assert_array_equal(b.dense(), dense)
        a = _operand(rng, (50, 20), "C")
        packed = _matmul.pack_right(b, 50)
        assert isinstance(packed, _matmul.Packed)
        assert_close(_matmul.matmul(a, packed), _reference(a, dense), np.float32)
        monkeypatch.setenv("TCONV_GEMM", "blas")
        np.testing.assert_array_equal(_matmul.pack_right(b, 50), dense)
        np.testing.assert_array_equal(_matmul.matmul(a, packed), np.matmul(a, dense))

    def test_pack_not_taken(self, monkeypatch):
        """Where the compiled product would not run, packing returns the operand itself."""
        monkeypatch.setenv("TCONV_GEMM", "blas")
        a = np.ones((300, 300), np.float32)
        assert _matmul.pack_left(a, 300) is a
        assert _matmul.pack_right(a, 300) is a
        np.testing.assert_array_equal(_matmul.matmul(a, a), np.matmul(a, a))

    def test_out_with_strided_columns(self, native):
        """``out`` whose columns are not contiguous: computed aside, then copied in."""
        rng = np.random.default_rng(4)
        a, b = _operand(rng, (20, 30), "C"), _operand(rng, (30, 40), "C")
        buf = np.zeros((20, 80), np.float32)
        out = buf[:, ::2]
        _matmul.matmul(a, b, out=out)
        assert_close(out, _reference(a, b), np.float32)
        assert not buf[:, 1::2].any()

    def test_identity_numpy_fallbacks(self, native):
        """What the compiled product does not take goes to NumPy, bit for bit: float64,
        mismatched batches, ``out`` overlapping an operand, 1-D operands."""
        rng = np.random.default_rng(5)
        a64 = rng.standard_normal((20, 30))
        b64 = rng.standard_normal((30, 40))
        np.testing.assert_array_equal(_matmul.matmul(a64, b64), np.matmul(a64, b64))
        a, b = a64.astype(np.float32), b64.astype(np.float32)
        assert not _matmul._applies(a[None].repeat(2, 0), b[None].repeat(3, 0), None)
        assert not _matmul._applies(a, b, a[:, :20])
        frozen = np.zeros((20, 40), np.float32)
        frozen.flags.writeable = False
        with pytest.raises(ValueError):                 # NumPy's error, nothing written
            _matmul.matmul(a, b, out=frozen)
        v = rng.standard_normal(30).astype(np.float32)
        np.testing.assert_array_equal(_matmul.matmul(v, b), np.matmul(v, b))
        with pytest.raises(ValueError):
            _matmul.matmul(a, a)                        # (20, 30) @ (20, 30): NumPy's error

    def test_dispatch_rules(self, monkeypatch):
        """``TCONV_GEMM``: ``blas`` never, ``native`` always (numba permitting), ``auto``
        only on an AVX-512 host whose BLAS is an OpenBLAS without AVX-512 kernels."""
        monkeypatch.setenv("TCONV_GEMM", "blas")
        assert not _matmul.native_preferred()
        monkeypatch.setenv("TCONV_GEMM", "native")
        assert _matmul.native_preferred() == _native.available()
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert not _matmul.native_preferred()
        monkeypatch.delenv("TCONV_NUMBA")
        monkeypatch.setenv("TCONV_GEMM", "auto")
        if not _native.available():
            return
        cases = [
            (True, [{"user_api": "blas", "internal_api": "openblas",
                     "architecture": "Haswell"}], True),
            (True, [{"user_api": "blas", "internal_api": "openblas",
                     "architecture": "SkylakeX"}], False),
            (True, [{"user_api": "blas", "internal_api": "mkl"}], False),
            (True, [], False),
            (False, [{"user_api": "blas", "internal_api": "openblas",
                      "architecture": "Haswell"}], False),
        ]
        try:
            for host, libs, want in cases:
                _matmul._blas_without_avx512.cache_clear()
                monkeypatch.setattr(_matmul, "_host_avx512", lambda host=host: host)
                monkeypatch.setattr("threadpoolctl.threadpool_info", lambda libs=libs: libs)
                assert _matmul.native_preferred() is want, (host, libs)
        finally:
            _matmul._blas_without_avx512.cache_clear()      # the real BLAS again

    def test_size_rules(self, monkeypatch):
        """Small, thin or shallow products stay with BLAS."""
        monkeypatch.setenv("TCONV_GEMM", "native")
        if not _native.available():
            pytest.skip("numba not installed")
        f = np.float32
        for split in (True, False):          # one product over both threads, or a block's
            assert _matmul._applies(np.ones((256, 512), f), np.ones((512, 256), f), None,
                                    split)
            assert not _matmul._applies(np.ones((64, 512), f), np.ones((512, 4096), f),
                                        None, split)
            assert not _matmul._applies(np.ones((128, 64), f), np.ones((64, 128), f), None,
                                        split)
        a1_block = (np.ones((128, 512), f), np.ones((512, 4096), f), None)
        assert _matmul._applies(*a1_block, split=False)
        assert not _matmul._applies(*a1_block, split=True)
        assert _matmul._applies(np.ones((256, 32), f), np.ones((32, 4096), f), None, False)
        assert not _matmul._applies(np.ones((256, 32), f), np.ones((32, 4096), f), None, True)


@needs_numba
@pytest.mark.parametrize("algorithm", ["gemm", "phase"])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_layer_native_vs_blas(algorithm, threads, monkeypatch):
    """A DCGAN-like float32 layer and its gradients: compiled product == BLAS product."""
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    _no_size_rules(monkeypatch)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 40, 6, 6)).astype(np.float32)
    w = rng.standard_normal((40, 24, 4, 4)).astype(np.float32)
    results = {}
    for mode in ("native", "blas"):
        monkeypatch.setenv("TCONV_GEMM", mode)
        y = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm=algorithm)
        grads = tconv.conv_transpose_backward(np.ones_like(y), x, w, stride=2, padding=1)
        results[mode] = (y, *grads[:2])
    for got, want in zip(results["native"], results["blas"]):
        assert_close(got, want, np.float32)


@needs_numba
@pytest.mark.parametrize("g", [1, 2])
def test_channels_last_packed_weights(g, monkeypatch):
    """gemm's channels-last layout with the weights packed straight from ``w``."""
    from tconv._algorithms import gemm
    from tconv.conv import transposed_params

    _no_size_rules(monkeypatch)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 6 * g, 4, 3)).astype(np.float32)
    w = rng.standard_normal((6 * g, 9, 4, 3)).astype(np.float32)
    p, out = transposed_params("test", x.shape, w.shape, None, 2, 1, 0, g, 1, None)
    results = {}
    for mode in ("native", "blas"):
        monkeypatch.setenv("TCONV_GEMM", mode)
        results[mode] = gemm._channels_last(x, w, p, out)
    assert_close(results["native"], results["blas"], np.float32)


@needs_numba
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("ndim, k, s, d, pad, g", [
    (2, 4, 2, 1, ((1, 1), (1, 1)), 1),          # DCGAN's input gradient
    (2, 3, 1, 2, ((2, 0), (1, 2)), 2),          # dilation, uneven padding, groups
    (2, 2, 2, 1, ((0, -1), (-1, 0)), 1),        # negative padding: a crop
    (1, 5, 3, 1, ((2, 2),), 1),
    (3, 2, 2, 1, ((0, 0),) * 3, 1),
])
def test_implicit_im2col(threads, ndim, k, s, d, pad, g, monkeypatch):
    """The compiled product fed the windows in place (``Im2col``): the conv of the input
    gradient and the weight gradient equal the im2col + BLAS paths, float32."""
    from tconv import grad
    from tconv._algorithms import _im2col

    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    _no_size_rules(monkeypatch)
    rng = np.random.default_rng(9)
    size = {1: (23,), 2: (11, 9), 3: (6, 5, 7)}[ndim]
    x = rng.standard_normal((3, 4 * g, *size)).astype(np.float32)
    w = rng.standard_normal((6 * g, 4, *(k,) * ndim)).astype(np.float32)
    stride, dil = (s,) * ndim, (d,) * ndim
    out = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1 for n, (lo, hi) in zip(size, pad))
    gy = rng.standard_normal((3, 6 * g, *out)).astype(np.float32)
    xp = _im2col.pad_crop(x, pad)
    b = _im2col.implicit_im2col(xp, g - 1, 4, (k,) * ndim, stride, dil, out)
    win = _im2col.windows(_im2col.group_view(xp, g), (k,) * ndim, stride, dil, out)
    dense = _im2col.im2col_block(win, (g - 1, 0, 3, 0, out[0]))
    np.testing.assert_array_equal(b.dense(), dense)
    results = {}
    for mode in ("native", "blas"):
        monkeypatch.setenv("TCONV_GEMM", mode)
        assert _matmul.implicit_applies(6, 4 * k**ndim, 3, np.float32) == (mode == "native")
        results[mode] = (_im2col.conv_gemm(x, w, stride, pad, dil, g, out),
                         grad._conv_weight_grad(gy, x, (k,) * ndim, stride, pad, dil, g))
    for got, want in zip(results["native"], results["blas"]):
        assert got.shape == want.shape
        assert_close(got, want, np.float32)


@needs_numba
def test_channels_last_packs_a1_weights(monkeypatch):
    """DCGAN's a1 (blocks of 128 rows on the pool) packs its weights once, from ``w``:
    the decision uses the pool's size rules, not those of a product split over threads
    (a regression: 8 MiB more peak memory and a slower a1)."""
    from tconv._algorithms import gemm
    from tconv.conv import transposed_params

    monkeypatch.setenv("TCONV_GEMM", "native")
    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    made = []
    pack = _matmul.pack_right
    monkeypatch.setattr(_matmul, "pack_right", lambda *a, **k: made.append(pack(*a, **k))
                        or made[-1])
    x = np.ones((64, 512, 4, 4), np.float32)
    w = np.ones((512, 256, 4, 4), np.float32)
    p, out = transposed_params("test", x.shape, w.shape, None, 2, 1, 0, 1, 1, None)
    gemm._channels_last(x, w, p, out)
    assert made and all(isinstance(m, _matmul.Packed) for m in made)
    assert isinstance(made[0].array, _matmul.Im2col)
