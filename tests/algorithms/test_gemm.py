"""``algorithm="gemm"``: one matrix product + blocked col2im (a compiled col2im when numba
is installed -- 2-D loops for 1-D and 2-D layers, 3-D loops for 3-D ones; the NumPy block
adds otherwise, tested here with ``TCONV_NUMBA=0``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _layers import small_layer
from _oracle import assert_close
from algorithms._cases import AlgorithmContract

import tconv
from tconv._algorithms import _cost, _native, gemm


class TestConvTransposeGemm(AlgorithmContract):
    ALGO = "gemm"


class TestConvTransposeGemmNumPy(AlgorithmContract):
    """The same contract on the pure-NumPy col2im (what runs without the ``fast`` extra):
    the strided block adds, the one-bincount col2im of small layers switched off."""

    ALGO = "gemm"

    @pytest.fixture(autouse=True)
    def _no_numba(self, monkeypatch, tmp_path):
        monkeypatch.setenv("TCONV_NUMBA", "0")
        cost = tmp_path / "cost.json"
        cost.write_text(json.dumps({"constants": {"numpy_scatter_max": 0}}))
        monkeypatch.setenv("TCONV_COST_FILE", str(cost))
        assert not _native.available()
        assert not _cost.scatter_sum((1, 2, 3), (2, 1, 2), _cost.params((1, 2, 3),
                                                                          (2, 1, 2), 1))


class TestConvTransposeGemmNumPyScatter(AlgorithmContract):
    """The same contract on the small layers' NumPy col2im: one batched product and one
    ``np.bincount`` (what a NumPy-only install runs for products of up to
    ``numpy_scatter_max`` numbers)."""

    ALGO = "gemm"

    @pytest.fixture(autouse=True)
    def _no_numba(self, monkeypatch):
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert _cost.scatter_sum((1, 2, 3), (2, 1, 2), _cost.params((1, 2, 3), (2, 1, 2),
                                                                        1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_sum_population(dtype, monkeypatch):
    """The one-bincount col2im on 150 seeded layers (1-3-D, groups, dilation, crops,
    output_padding), inf and NaN among the inputs of some, against torch in float64:
    values, and NaN/inf exactly where torch has them; and ``auto`` reaches it on the small
    ones, depthwise ones among them."""
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("TCONV_NUMBA", "0")
    rng = np.random.default_rng(31)
    reached = depthwise = 0
    for i in range(150):
        layer = small_layer(rng, 5, 3, 6, 7, (31, 9, 5))
        if layer is None:
            continue
        nd, s, d, k, g, cig, cog, size, pad, op = layer
        x = rng.standard_normal((int(rng.integers(1, 4)), g * cig, *size)).astype(dtype)
        w = rng.standard_normal((g * cig, cog, *(k,) * nd)).astype(dtype)
        if i % 7 == 0:
            x.flat[int(rng.integers(x.size))] = np.inf if i % 2 else np.nan
        kw = dict(stride=s, padding=pad, output_padding=op, groups=g, dilation=d)
        p = _cost.params(x.shape, w.shape, s, pad, op, g, d)
        if _cost.scatter_sum(x.shape, w.shape, p):
            reached += tconv.explain_algorithm(x.shape, w.shape, **kw, dtype=dtype
                                               ).algorithm == "gemm"
            depthwise += cig == cog == 1
        got = gemm._scatter_sum(x, w, p, p.transposed_size(size))
        fn = getattr(torch.nn.functional, f"conv_transpose{nd}d")
        ref = fn(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                 **kw).numpy()
        assert got.dtype == dtype and got.shape == ref.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        ok = np.isfinite(ref)
        assert_close(got[ok], ref[ok], dtype)
    assert reached >= 60 and depthwise >= 5


def test_scatter_rule(monkeypatch):
    # products of at most scatter_max numbers (numpy_scatter_max without numba: the
    # compiled scatter takes larger ones than bincount), depthwise ones only without numba;
    # never a one-position input
    c = _cost.constants()
    x, w = (2, 16, 4, 4), (16, 16, 8, 8)                    # 2*16*64*16 = 32768 numbers
    mid = (4, 16, 4, 4)                                      # 65536
    big = (2, 16, 8, 8)                                      # 131072
    bigger = (4, 16, 8, 8)                                   # 262144
    dw = (2, 16, 4, 4), (16, 1, 8, 8)
    geo = (4, 2)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    assert c.numpy_scatter_max >= 65536 and c.scatter_max >= 131072
    assert _cost.scatter_sum(x, w, _cost.params(x, w, *geo))
    assert _cost.scatter_sum(mid, w, _cost.params(mid, w, *geo))
    assert "bincount" in str(tconv.explain_algorithm(x, w, *geo))
    assert not _cost.scatter_sum(big, w, _cost.params(big, w, *geo))
    assert _cost.scatter_sum(*dw, _cost.params(*dw, *geo, 0, 16))            # 2048 numbers
    assert "bincount" in str(tconv.explain_algorithm(*dw, *geo, 0, 16))
    one = (2, 16, 1, 1)                                      # a one-position input
    assert not _cost.scatter_sum(one, w, _cost.params(one, w, *geo))
    if _native._installed():
        monkeypatch.setenv("TCONV_NUMBA", "1")
        assert _cost.scatter_sum(x, w, _cost.params(x, w, *geo))
        assert _cost.scatter_sum(big, w, _cost.params(big, w, *geo))
        assert not _cost.scatter_sum(bigger, w, _cost.params(bigger, w, *geo))
        d = tconv.explain_algorithm(x, w, *geo, dtype=np.float32)
        assert d.algorithm == "gemm" and d.scatter and "compiled scatter" in str(d)
        assert not _cost.scatter_sum(*dw, _cost.params(*dw, *geo, 0, 16))   # compiled pass


@pytest.mark.parametrize("threads", ["1", "2"])
def test_identity_compiled_vs_numpy(threads, monkeypatch):
    """DCGAN's last layer (several image blocks on the pool): compiled col2im == NumPy's."""
    if not _native.available():
        pytest.skip("numba not installed")
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 3, 4, 4)).astype(np.float32)
    got = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="gemm")
    monkeypatch.setenv("TCONV_NUMBA", "0")
    want = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="gemm")
    assert_close(got, want, np.float32)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("k, s, p, op, d, g", [
    (4, 2, 1, 0, 1, 1),          # DCGAN 4x4 -> 8x8, wide: the channels-last layout
    (3, 2, 0, 1, 1, 2),          # odd kernel, output_padding, groups
    (3, 3, 2, 2, 2, 1),          # dilation, outputs no tap reaches
    (2, 2, 0, 0, 1, 1),          # kernel == stride: no overlap
])
def test_channels_last_compiled_vs_torch(threads, k, s, p, op, d, g, monkeypatch):
    """The compiled channels-last col2im (``col2im_last2d``) against torch in float64, and
    against the NumPy block adds it replaces."""
    torch = pytest.importorskip("torch")
    if not _native.available():
        pytest.skip("numba not installed")
    from tconv._algorithms import gemm
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    rng = np.random.default_rng(k * 100 + s)
    x = rng.standard_normal((5, 4 * g, 3, 4))
    w = rng.standard_normal((4 * g, 40, k, k))
    assert gemm.channels_last(x.shape, w.shape)
    kw = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g, algorithm="gemm")
    got = tconv.conv_transpose(x, w, **kw)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, s, p,
                                               op, g, d).numpy()
    assert_close(got, ref, np.float64)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    assert_close(tconv.conv_transpose(x, w, **kw), got, np.float64)


def _torch_conv_transpose(x, w, s, p, op, g, d):
    torch = pytest.importorskip("torch")
    fn = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
          3: torch.nn.functional.conv_transpose3d}[x.ndim - 2]
    return fn(torch.tensor(x), torch.tensor(w), None, s, p, op, g, d).numpy()


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("nd", [1, 3])
def test_compiled_col2im_1d_3d_vs_torch(nd, layout, monkeypatch):
    """The compiled col2im in 1-D (the 2-D loops with a unit row dim) and 3-D (the 3-D
    loops), both product layouts, over seeded random layers -- overlapping taps, kernels
    within the stride, dilation, padding that crops every tap of a phase, output_padding
    that no tap reaches, groups -- against torch in float64 and against the NumPy path."""
    if not _native.available():
        pytest.skip("numba not installed")
    from tconv._algorithms import _cost, gemm
    rng = np.random.default_rng(nd * 10 + (layout == "channels_last"))
    done = 0
    while done < 25:
        s, k, d = (int(v) for v in rng.integers(1, [5, 7, 3]))
        pad = int(rng.integers(0, d * (k - 1) + 1))
        op = int(rng.integers(0, max(s, d)))
        g, cig, cog = int(rng.choice([1, 2, 3])), int(rng.integers(1, 5)), int(rng.integers(1, 9))
        size = tuple(int(v) for v in rng.integers(1, 7 if nd == 3 else 20, nd))
        x = rng.standard_normal((int(rng.integers(1, 4)), cig * g, *size))
        w = rng.standard_normal((cig * g, cog, *(k,) * nd))
        try:
            p = _cost.params(x.shape, w.shape, s, pad, op, g, d)
        except ValueError:
            continue
        done += 1
        out = p.transposed_size(size)
        monkeypatch.delenv("TCONV_NUMBA", raising=False)
        got = gemm.conv_transpose(x, w, p, out, layout=layout)
        assert_close(got, _torch_conv_transpose(x, w, s, pad, op, g, d), np.float64)
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert_close(gemm.conv_transpose(x, w, p, out, layout=layout), got, np.float64)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("nd, overlap, want", [
    (1, True, True), (1, False, False), (2, True, True), (2, False, True),
    (3, True, True), (3, False, False)])
def test_compiled_col2im_rule(nd, overlap, want, layout):
    """Where the compiled col2im runs: channels-last always; channels-first in 2-D, and in
    1-D and 3-D where taps overlap (a kernel within the stride is plain tap copies)."""
    if not _native.available():
        pytest.skip("numba not installed")
    from tconv._algorithms import _cost, gemm
    k = 4 if overlap else 2
    p = _cost.params((1, 2, *(5,) * nd), (2, 3, *(k,) * nd), 2, 1 if overlap else 0)
    assert gemm.compiled_col2im(p, layout) == (want or layout == "channels_last")


def test_compiled_col2im_float32_3d_blocks():
    """A float32 3-D layer in several image blocks on the pool, both layouts: equal to the
    NumPy path and to torch."""
    if not _native.available():
        pytest.skip("numba not installed")
    from tconv._algorithms import _cost, gemm
    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 8, 6, 7, 5)).astype(np.float32)
    w = (rng.standard_normal((8, 6, 3, 4, 3)) / 10).astype(np.float32)
    p = _cost.params(x.shape, w.shape, (2, 2, 1), (1, 1, 0), 0, 2, 1)
    out = p.transposed_size(x.shape[2:])
    ref = _torch_conv_transpose(x.astype(np.float64), w.astype(np.float64), (2, 2, 1),
                                (1, 1, 0), 0, 2, 1)
    for layout in ("channels_first", "channels_last"):
        assert_close(gemm.conv_transpose(x, w, p, out, layout=layout), ref, np.float32)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_small_grouped_layers_run_their_groups_together(threads, compiled, monkeypatch):
    """Small grouped layers (the whole product within one block, products too small for
    BLAS's threads): the channels-first path runs several groups a block in one batched
    product and one col2im (compiled, or one strided add a tap), the blocks split by
    images and, where the images are fewer than the threads, by groups. Seeded 1-3-D
    layers, float32 and float64, against torch, and bit for bit the path a group at a
    time."""
    if compiled and not _native.available():
        pytest.skip("numba not installed")
    if not compiled:
        monkeypatch.setenv("TCONV_NUMBA", "0")
    tconv.set_num_threads(threads)
    calls: list[int] = []
    real = gemm.matmul

    def counting(a, b, out=None):
        calls.append(1)
        return real(a, b, out=out)

    monkeypatch.setattr(gemm, "matmul", counting)
    rng = np.random.default_rng(threads)
    done = 0
    try:
        while done < 12:
            nd = int(rng.integers(1, 4))
            g = int(rng.choice([2, 3, 4, 8]))
            cig, cog = int(rng.integers(1, 9)), int(rng.integers(2, 9))
            s = int(rng.integers(1, 4))
            k = int(rng.integers(s + 1, 2 * s + 3))           # taps overlap: compiled col2im
            n = int(rng.choice([1, 2, 5]))
            size = tuple(int(v) for v in rng.integers(2, {1: 40, 2: 9, 3: 5}[nd], nd))
            x = rng.standard_normal((n, g * cig, *size))
            w = rng.standard_normal((g * cig, cog, *(k,) * nd))
            p = _cost.params(x.shape, w.shape, s, 1, 0, g)
            if gemm.channels_last(x.shape, w.shape) or gemm.compiled_col2im(
                    p, "channels_first") != compiled:
                continue
            out = p.transposed_size(size)
            ref = _torch_conv_transpose(x, w, s, 1, 0, g, 1)
            for dt in (np.float64, np.float32):
                xd, wd = x.astype(dt), w.astype(dt)
                calls.clear()
                got = gemm.conv_transpose(xd, wd, p, out, layout="channels_first")
                assert_close(got, ref, dt)
                together = len(calls)
                monkeypatch.setattr(gemm, "GROUPS_TOGETHER", False)
                calls.clear()
                alone = gemm.conv_transpose(xd, wd, p, out, layout="channels_first")
                monkeypatch.setattr(gemm, "GROUPS_TOGETHER", True)
                # a product a group alone; together one a block, at most a block a thread
                assert len(calls) >= g and together <= threads, (together, len(calls), g)
                if g > threads:
                    assert together < len(calls)
                np.testing.assert_array_equal(got, alone)
            done += 1
    finally:
        tconv.set_num_threads(None)
