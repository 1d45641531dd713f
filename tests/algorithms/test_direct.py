"""``algorithm="direct"``: compiled implicit matrix products (numba), and its gradients.

The gradients are checked on *every* random configuration, not only where
:func:`tconv._algorithms.direct.preferred` routes ``conv_transpose_backward`` to them, against
PyTorch autograd and against the im2col path they replace.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from _cost_state import without_scatter
from _oracle import assert_close
from algorithms._cases import EDGE_CASES, AlgorithmContract, case_ids, make_case, run
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import Config, transposed_configs

import tconv
from tconv._algorithms import _native, direct
from tconv._algorithms._im2col import conv_gemm
from tconv.conv import choose_algorithm, transposed_params
from tconv.grad import _conv_weight_grad

pytest.importorskip("numba")


class TestConvTransposeDirect(AlgorithmContract):
    ALGO = "direct"

    def test_nan_inf_propagate_like_torch(self):
        # fastmath here only reassociates: NaN and inf still travel as in torch
        torch = pytest.importorskip("torch")
        x = np.ones((1, 2, 4, 4))
        x[0, 0, 1, 2], x[0, 1, 3, 0] = np.nan, np.inf
        w = np.random.default_rng(0).standard_normal((2, 3, 3, 3))
        ours = tconv.conv_transpose(x, w, stride=2, algorithm="direct")
        ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w),
                                                   stride=2).numpy()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(ref))

    def test_reused_buffers_do_not_leak_between_calls(self):
        # scratch buffers are reused: a big call, then a small one, must not see old data
        rng = np.random.default_rng(0)
        big = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((3, 2, 4, 4))
        small = rng.standard_normal((1, 3, 2, 3)), rng.standard_normal((3, 2, 3, 3))
        first = tconv.conv_transpose(*small, stride=2, algorithm="direct")
        tconv.conv_transpose(*big, stride=2, padding=1, algorithm="direct")
        again = tconv.conv_transpose(*small, stride=2, algorithm="direct")
        assert_close(again, first)
        assert_close(again, tconv.conv_transpose(*small, stride=2, algorithm="scatter"))

    def test_float32_large_threads(self):
        # a layer big enough to be split across the thread pool, in float32
        rng = np.random.default_rng(1)
        x = rng.standard_normal((2, 8, 40, 40)).astype(np.float32)
        w = rng.standard_normal((8, 16, 4, 4)).astype(np.float32)
        ours = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="direct")
        assert ours.dtype == np.float32
        assert_close(ours, tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="gemm"),
                     np.float32)


def _grad_case(case, dtype, seed):
    """An edge case's ``x``, ``w``, parameters and a random ``grad_out`` of its shape."""
    x, w, kw = make_case(case, dtype)
    p, out = transposed_params("t", x.shape, w.shape, None, kw["stride"], kw["padding"],
                               kw["output_padding"], kw["groups"], kw["dilation"], None)
    gy = np.random.default_rng(seed).standard_normal(
        (x.shape[0], w.shape[1] * p.groups, *out)).astype(dtype)
    return x, w, p, gy


def _grad_refs(x, w, gy, p):
    pad = tuple((lo, hi - op) for (lo, hi), op in zip(p.pad, p.output_padding))
    gx = conv_gemm(gy, w, p.stride, pad, p.dilation, p.groups, tuple(x.shape[2:]))
    gw = _conv_weight_grad(x, gy, p.kernel, p.stride, pad, p.dilation, p.groups)
    return gx, gw


class TestDepthwise:
    """``direct`` on depthwise layers (one channel per group, what ``auto`` gives it below
    stride 8): against scatter on random 1-D/2-D layers, and against torch on FCN's
    bilinear up-sampler."""

    @settings(max_examples=120, deadline=None)
    @given(ndim=st.sampled_from([1, 2]), c=st.integers(1, 4), n=st.integers(1, 3),
           k=st.integers(1, 6), s=st.integers(1, 5), d=st.integers(1, 3),
           size=st.integers(1, 9), data=st.data())
    def test_identity_vs_scatter(self, ndim, c, n, k, s, d, size, data):
        span = d * (k - 1) + 1
        pad = data.draw(st.integers(0, span - 1))
        opad = data.draw(st.integers(0, max(s, d) - 1))
        shape = (size,) * ndim
        assume((size - 1) * s - 2 * pad + span + opad >= 1)
        rng = np.random.default_rng(size * 100 + k)
        x = rng.standard_normal((n, c, *shape))
        w = rng.standard_normal((c, 1, *(k,) * ndim))
        kw = dict(stride=s, padding=pad, output_padding=opad, groups=c, dilation=d)
        try:
            ref = tconv.conv_transpose(x, w, algorithm="scatter", **kw)
        except ValueError:                       # e.g. output_padding >= stride and dilation
            ref = None
        assume(ref is not None)
        got = tconv.conv_transpose(x, w, algorithm="direct", **kw)
        assert got.shape == ref.shape
        assert_close(got, ref)

    @pytest.mark.parametrize("threads", ["1", "2"])
    def test_oracle_torch_fcn(self, threads, monkeypatch):
        torch = pytest.importorskip("torch")
        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 21, 64, 64)).astype(np.float32)     # c2, two images
        w = rng.standard_normal((21, 1, 4, 4)).astype(np.float32)
        b = rng.standard_normal(21).astype(np.float32)
        got = tconv.conv_transpose(x, w, b, stride=2, padding=1, groups=21, algorithm="direct")
        want = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w),
                                                    torch.tensor(b), 2, 1, groups=21)
        assert got.dtype == np.float32
        assert_close(got, want.numpy(), np.float32)


class TestDepthwise2d:
    """The one-pass depthwise 2-D kernel (``direct._depthwise2d``): column stride 2, at
    most two kernel rows and two kernel columns an output. Checked against scatter on
    random layers (row strides, kernels, dilations and paddings per dim, channel
    multipliers, planes split over threads) and against torch on non-finite numbers where
    taps are missing (kernel 3, stride 2: a phase with one tap)."""

    @staticmethod
    def _tables(x_shape, w_shape, **kw):
        p, out = transposed_params("t", x_shape, w_shape, None, kw.get("stride", 1),
                                   kw.get("padding", 0), kw.get("output_padding", 0),
                                   kw.get("groups", 1), kw.get("dilation", 1), None)
        return direct._depthwise_tables(tuple(x_shape[2:]), out, p)

    @pytest.mark.parametrize("k, s, d, taken", [
        ((4, 4), (2, 2), 1, True), ((2, 2), (2, 2), 1, True), ((3, 3), (2, 2), 1, True),
        ((1, 4), (1, 2), 1, True), ((6, 3), (3, 2), 1, True), ((2, 2), (1, 2), (1, 2), True),
        ((5, 4), (2, 2), 1, False), ((4, 5), (2, 2), 1, False), ((3, 3), (2, 2), 2, False),
        ((2, 2), (2, 1), 1, False), ((8, 8), (4, 4), 1, False), ((64, 64), (32, 32), 1, False)])
    def test_which_layers_it_takes(self, k, s, d, taken):
        # column stride 2, at most two kernel rows and two kernel columns an output
        tables = self._tables((1, 3, 5, 5), (3, 1, *k), stride=s, dilation=d, groups=3)
        assert (tables is not None) is taken

    @settings(max_examples=150, deadline=None)
    @given(c=st.integers(1, 3), cog=st.integers(1, 3), n=st.integers(1, 2),
           s=st.tuples(st.integers(1, 4), st.just(2)),
           d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
           size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
           threads=st.sampled_from(["1", "2", "3"]), data=st.data())
    def test_identity_vs_scatter(self, c, cog, n, s, d, size, threads, data):
        # kernels of at most two taps a phase in each dim: k*d up to about 2*s
        k = tuple(data.draw(st.integers(1, max(1, (2 * sa) // da))) for sa, da in zip(s, d))
        pad = tuple(data.draw(st.integers(0, da * (ka - 1))) for ka, da in zip(k, d))
        opad = tuple(data.draw(st.integers(0, max(sa, da) - 1)) for sa, da in zip(s, d))
        rng = np.random.default_rng(sum(size) * 100 + sum(k))
        x = rng.standard_normal((n, c, *size))
        w = rng.standard_normal((c, cog, *k))
        kw = dict(stride=s, padding=pad, output_padding=opad, groups=c, dilation=d)
        try:
            ref = tconv.conv_transpose(x, w, algorithm="scatter", **kw)
        except ValueError:                       # empty output, or output_padding too big
            ref = None
        assume(ref is not None)
        assert self._tables(x.shape, w.shape, **kw) is not None
        # hypothesis runs many examples in one test call: no monkeypatch fixture here
        old = os.environ.get("TCONV_NUM_THREADS")
        os.environ["TCONV_NUM_THREADS"] = threads
        limit, direct.DEPTHWISE_PARALLEL_MACS = direct.DEPTHWISE_PARALLEL_MACS, 0
        try:
            got = tconv.conv_transpose(x, w, algorithm="direct", **kw)
        finally:
            direct.DEPTHWISE_PARALLEL_MACS = limit
            if old is None:
                del os.environ["TCONV_NUM_THREADS"]
            else:
                os.environ["TCONV_NUM_THREADS"] = old
        assert got.shape == ref.shape
        assert_close(got, ref)

    @pytest.mark.parametrize("k, s, p", [(3, 2, 1), (4, 2, 1), ((3, 1), 2, 0), (2, 2, 0)])
    def test_nan_inf_like_torch(self, k, s, p):
        # a missing tap must add nothing: not 0 * inf (NaN) where torch adds no term
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(p * 10 + s)
        x = rng.standard_normal((1, 2, 5, 6))
        w = rng.standard_normal((2, 1, *np.broadcast_to(k, 2)))
        x[0, 0, 2, 3], x[0, 1, 0, 5], x[0, 1, 4, 0] = np.inf, np.nan, -np.inf
        assert self._tables(x.shape, w.shape, stride=s, padding=p, groups=2) is not None
        ours = tconv.conv_transpose(x, w, stride=s, padding=p, groups=2, algorithm="direct")
        ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w),
                                                   stride=s, padding=p, groups=2).numpy()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(ref))
        fin = np.isfinite(ref)
        assert_close(ours[fin], ref[fin])

    def test_reused_input_buffer(self):
        # the padded input lives in a scratch buffer: a wide call, then a narrow one
        rng = np.random.default_rng(3)
        small = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((2, 1, 3, 3))
        first = tconv.conv_transpose(*small, stride=2, groups=2, algorithm="direct")
        tconv.conv_transpose(rng.standard_normal((2, 4, 9, 11)),
                             rng.standard_normal((4, 2, 4, 4)), stride=2, padding=1,
                             groups=4, algorithm="direct")
        again = tconv.conv_transpose(*small, stride=2, groups=2, algorithm="direct")
        np.testing.assert_array_equal(again, first)
        assert_close(again, tconv.conv_transpose(*small, stride=2, groups=2,
                                                 algorithm="scatter"))


class TestDirectGradients:
    @pytest.mark.parametrize("case", EDGE_CASES, ids=case_ids())
    def test_identity(self, case, dtype):
        x, w, p, gy = _grad_case(case, dtype, 3)
        gx_ref, gw_ref = _grad_refs(x, w, gy, p)
        split = direct.planes(gy, p, tuple(x.shape[2:]))
        gx = direct.grad_input(gy, w, p, tuple(x.shape[2:]), split)
        gw = direct.grad_weight(x, gy, w.shape, p, split)
        assert_close(gx, gx_ref, dtype)
        assert_close(gw, gw_ref, dtype)

    @settings(max_examples=150)
    @given(cfg=transposed_configs(), seed=st.integers(0, 2**31 - 1))
    def test_grad(self, cfg: Config, seed: int):
        torch = pytest.importorskip("torch")
        fns = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
               3: torch.nn.functional.conv_transpose3d}
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size))
        w = rng.standard_normal((cfg.c_in, cfg.cog, *cfg.kernel))
        gy = rng.standard_normal((cfg.batch, cfg.c_out, *cfg.out_size()))
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        y = fns[cfg.ndim](tx, tw, None, cfg.stride, cfg.padding, cfg.output_padding,
                          cfg.groups, cfg.dilation)
        (y * torch.tensor(gy)).sum().backward()
        p, _ = transposed_params("t", x.shape, w.shape, None, cfg.stride, cfg.padding,
                                 cfg.output_padding, cfg.groups, cfg.dilation, None)
        assert_close(direct.grad_input(gy, w, p, cfg.size), tx.grad.numpy())
        assert_close(direct.grad_weight(x, gy, w.shape, p), tw.grad.numpy())

    def test_backward_routes_and_agrees(self, monkeypatch):
        # a layer `preferred` routes to the compiled loops; TCONV_NUMBA=0 takes im2col (the
        # small-layer gather path, which would take this small layer, off)
        without_scatter(monkeypatch)
        rng = np.random.default_rng(2)
        x, w = rng.standard_normal((2, 4, 12, 10)), rng.standard_normal((4, 6, 4, 4))
        gy = rng.standard_normal((2, 6, 24, 20))
        x, w, gy = (a.astype(np.float32) for a in (x, w, gy))
        p, _ = transposed_params("t", x.shape, w.shape, None, 2, 1, 0, 1, 1, None)
        assert direct.preferred(x.shape, w.shape, p, np.float32)
        calls = []
        real = direct.grad_input
        monkeypatch.setattr(direct, "grad_input", lambda *a: calls.append(1) or real(*a))
        on = tconv.conv_transpose_backward(gy, x, w, stride=2, padding=1)
        assert calls == [1]
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert not direct.preferred(x.shape, w.shape, p, np.float32)
        assert choose_algorithm(x.shape, w.shape, p) != "direct"
        off = tconv.conv_transpose_backward(gy, x, w, stride=2, padding=1)
        assert calls == [1]
        for a, b in zip(on, off):
            assert_close(a, b, np.float32)


class TestPreferred:
    @pytest.mark.parametrize(("x_shape", "w_shape", "stride", "want"), [
        ((1, 21, 64, 64), (21, 1, 4, 4), 2, True),          # depthwise FCN x2 (groups=21)
        ((1, 21, 16, 16), (21, 1, 64, 64), 32, False),      # depthwise FCN x32: sub-pixel
        ((2, 32, 16, 16, 16), (32, 16, 4, 4, 4), 2, True),  # 3-D e2
        ((64, 512, 4, 4), (512, 256, 4, 4), 2, False),      # fat DCGAN a1
        ((8, 256, 32, 32), (256, 128, 2, 2), 2, False),     # U-Net, kernel = stride
    ])
    def test_rule(self, x_shape, w_shape, stride, want):
        groups = x_shape[1] if w_shape[1] == 1 and x_shape[1] > 1 else 1
        p, _ = transposed_params("t", x_shape, w_shape, None, stride, 0, 0, groups, 1, None)
        assert direct.preferred(x_shape, w_shape, p) is want

    def test_one_output_channel(self):
        # FSRCNN's x2 head (b2): compiled loops forward and for the input gradient; a DCGAN
        # RGB layer (3 outputs, 64 inputs) stays on gemm forward while its input gradient
        # (64 <= input_grad_depth x prod(stride)) takes the compiled loops
        p, _ = transposed_params("t", (1, 56, 256, 256), (56, 1, 9, 9), None, 2, 4, 1, 1, 1,
                                 None)
        assert direct.preferred((1, 56, 256, 256), (56, 1, 9, 9), p)
        assert choose_algorithm((1, 56, 256, 256), (56, 1, 9, 9), p) == "direct"
        p, _ = transposed_params("t", (64, 64, 32, 32), (64, 3, 4, 4), None, 2, 1, 0, 1, 1,
                                 None)
        assert direct.preferred((64, 64, 32, 32), (64, 3, 4, 4), p)
        assert not direct.preferred((64, 64, 32, 32), (64, 3, 4, 4), p, np.float64)
        assert choose_algorithm((64, 64, 32, 32), (64, 3, 4, 4), p) == "gemm"

    @pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "want"), [
        ((64, 128, 16, 16), (128, 64, 4, 4), 2, 1, True),    # a3: rows of 16
        ((16, 64, 4096), (64, 64, 4), 2, 1, True),           # e1: 1-D
        ((64, 256, 8, 8), (256, 128, 4, 4), 2, 1, False),    # a2: rows of 8, a gap of 2
        ((8, 256, 32, 32), (256, 128, 2, 2), 2, 0, False),   # d: one tap a phase
        ((64, 64, 32, 32), (64, 3, 4, 4), 2, 1, False),      # a4: 3 of 8 block rows
        ((2, 1024, 16, 16), (1024, 128, 4, 4), 2, 1, False),  # 4096 terms a phase
    ])
    def test_segments_rule(self, x_shape, w_shape, stride, padding, want):
        # float32 on AVX-512 only; the float64 (and unknown-dtype) choice is unchanged
        from tconv._algorithms import _cost

        p, _ = transposed_params("t", x_shape, w_shape, None, stride, padding, 0, 1, 1, None)
        avx512 = _native.available() and _cost.host_avx512()
        assert direct.segments_preferred(x_shape, w_shape, p, np.float32) is (want and avx512)
        assert not direct.segments_preferred(x_shape, w_shape, p, np.float64)
        base = choose_algorithm(x_shape, w_shape, p)
        assert choose_algorithm(x_shape, w_shape, p, dtype=np.float64) == base
        got = choose_algorithm(x_shape, w_shape, p, dtype=np.float32)
        assert got == ("direct" if want and avx512 else base)

    def test_switched_off(self, monkeypatch):
        # TCONV_NUMBA=0 steers "auto" and the gradients away; an explicit request still runs
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert not direct.available()
        x, w = np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))
        assert_close(run("direct", x, w, dict(stride=1, padding=0, output_padding=0,
                                              groups=1, dilation=1)),
                     tconv.conv_transpose(x, w))

    def test_missing_numba_names_the_extra(self, monkeypatch, request):
        import tconv._algorithms as algorithms
        _native._installed.cache_clear()             # looked up once per process
        request.addfinalizer(_native._installed.cache_clear)
        monkeypatch.setitem(sys.modules, "numba", None)
        monkeypatch.delitem(sys.modules, "tconv._algorithms._native_kernels", raising=False)
        monkeypatch.delattr(algorithms, "_native_kernels", raising=False)
        monkeypatch.setattr(_native, "_KERNELS", {})
        assert not direct.available()
        x, w = np.ones((1, 2, 2, 2)), np.ones((2, 1, 3, 3))
        assert choose_algorithm(x.shape, w.shape, transposed_params(
            "t", x.shape, w.shape, None, 2, 0, 0, 2, 1, None)[0]) != "direct"
        monkeypatch.setattr(_native, "_DISABLED", [])
        with pytest.warns(RuntimeWarning, match="numba"):     # one warning, NumPy's result
            got = tconv.conv_transpose(x, w, stride=2, groups=2, algorithm="direct")
        assert_close(got, tconv.conv_transpose(x, w, stride=2, groups=2, algorithm="phase"))


class TestTiles:
    """``igemm_tiles``: the float32 product in 8 x 32 register blocks, its right operand read
    from the grid in place, against the numba loops it replaces and a float64 reference."""

    @pytest.mark.parametrize("threads", ["1", "2"])
    @pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "opad", "tiled"), [
        ((2, 8, 5, 6, 7), (8, 16, 4, 4, 4), 2, 1, 0, True),     # e2-like 3-D
        ((3, 6, 9, 11), (6, 12, 4, 4), 2, 1, 1, True),          # 12 rows: 3/4 of 2 blocks
        ((2, 16, 77), (16, 6, 4), 2, 1, 1, True),               # 1-D, 6 rows, partial tiles
        ((2, 16, 7, 9), (16, 24, 3, 5), (2, 3), (1, 2), 0, True),  # three row blocks
        ((2, 8, 7, 9), (8, 5, 4, 4), 2, 1, 0, False),           # 5 rows: the loops instead
    ])
    def test_against_loops_and_reference(self, x_shape, w_shape, stride, padding, opad,
                                         tiled, threads, monkeypatch):
        if not _native.available():
            pytest.skip("numba not installed")
        from tconv._algorithms import _cost

        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        monkeypatch.setattr(direct, "PARALLEL_MACS", 0)           # split even these layers
        monkeypatch.setattr(direct, "SEGMENTS", False)            # TestSegments' kernel
        rng = np.random.default_rng(7)
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        kw = dict(stride=stride, padding=padding, output_padding=opad, groups=1, dilation=1)
        calls = []
        kernel = _native.kernels()["igemm_tiles"]
        monkeypatch.setitem(_native._KERNELS, "igemm_tiles",
                            lambda *a: calls.append(1) or kernel(*a))
        got = run("direct", x, w, kw)
        assert bool(calls) == (tiled and _cost.host_avx512())
        monkeypatch.setattr(direct, "TILED", False)
        loops = run("direct", x, w, kw)
        ref = run("scatter", x.astype(np.float64), w.astype(np.float64), kw)
        assert got.dtype == np.float32
        assert_close(got, ref, np.float32)
        assert_close(got, loops, np.float32)

    @pytest.mark.parametrize("segments", [False, True])
    def test_grouped_layers(self, segments, monkeypatch):
        # 30 seeded grouped float32 layers (1-3-D, dilation, crops; 16 or more terms a
        # phase: stored in place): each conv group's product in register blocks (its own
        # packed weights, input planes and output rows) -- the flat walk, and row segments
        # forced for any row length -- against the numba loops and float64 scatter
        if not _native.available():
            pytest.skip("numba not installed")
        from tconv._algorithms import _cost

        monkeypatch.setattr(direct, "SEGMENTS", segments)
        monkeypatch.setattr(direct, "SEGMENT_COST", float("inf"))
        calls: list[int] = []
        name = "igemm_segs" if segments else "igemm_tiles"
        kernel = _native.kernels()[name]
        monkeypatch.setitem(_native._KERNELS, name, lambda *a: calls.append(1) or kernel(*a))
        rng = np.random.default_rng(23)
        reached = 0
        for _ in range(30):
            nd = int(rng.integers(1, 4))
            g = int(rng.choice([2, 3, 4, 8]))
            s = int(rng.integers(1, 4))
            k = int(rng.integers(s + 1, 2 * s + 2))
            d = int(rng.choice([1, 1, 2]))
            cig = max(1, -(-16 // k ** nd * s ** nd)) + int(rng.integers(0, 3))
            cog = int(rng.choice([6, 8, 12, 16, 24]))
            size = tuple(int(v) for v in rng.integers(2, 9 if nd < 3 else 5, nd))
            pad = int(rng.integers(0, d * (k - 1) // 2 + 1))
            x = rng.standard_normal((int(rng.integers(1, 4)), g * cig, *size)).astype(np.float32)
            w = rng.standard_normal((g * cig, cog, *(k,) * nd)).astype(np.float32)
            kw = dict(stride=s, padding=pad, output_padding=0, groups=g, dilation=d)
            calls.clear()
            got = run("direct", x, w, kw)
            reached += bool(calls)
            with monkeypatch.context() as m:
                m.setattr(direct, "TILED", False)
                loops = run("direct", x, w, kw)
            ref = run("scatter", x.astype(np.float64), w.astype(np.float64), kw)
            assert_close(got, ref, np.float32)
            assert_close(got, loops, np.float32)
        if _cost.host_avx512():
            assert reached >= 15

    def test_nan_stays_in_its_outputs(self):
        # a NaN input reaches only the outputs its taps reach, as in the loops
        if not _native.available():
            pytest.skip("numba not installed")
        x = np.ones((1, 8, 6, 6, 6), np.float32)
        x[0, 3, 2, 2, 2] = np.nan
        w = np.ones((8, 8, 4, 4, 4), np.float32)
        y = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="direct")
        ref = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), stride=2,
                                   padding=1, algorithm="scatter")
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))


def _segments_used(monkeypatch) -> list[int]:
    """Spy on ``igemm_segs``: the list grows by one a call."""
    calls: list[int] = []
    kernel = _native.kernels()["igemm_segs"]
    monkeypatch.setitem(_native._KERNELS, "igemm_segs", lambda *a: calls.append(1) or kernel(*a))
    return calls


@contextlib.contextmanager
def _forced_segments() -> Iterator[list[int]]:
    """Row segments for any row length, and a spy on ``igemm_segs`` (for hypothesis tests,
    which cannot take the function-scoped ``monkeypatch``)."""
    old, kernel, calls = direct.SEGMENT_COST, _native.kernels()["igemm_segs"], []
    direct.SEGMENT_COST = float("inf")
    _native._KERNELS["igemm_segs"] = lambda *a: calls.append(1) or kernel(*a)
    try:
        yield calls
    finally:
        direct.SEGMENT_COST = old
        _native._KERNELS["igemm_segs"] = kernel


class TestSegments:
    """``igemm_segs``: the float32 product over row segments of 16 outputs (8 x 3 register
    blocks, no gap columns), each family of last-dim phases stored interleaved."""

    @staticmethod
    def _tables(cfg: Config, c_out: int):
        from tconv._algorithms import phase
        from tconv._algorithms._native_kernels import SEG_VECTORS

        p, out = transposed_params("conv_transpose", (cfg.batch, 1, *cfg.size),
                                   (1, c_out, *cfg.kernel), None, cfg.stride, cfg.padding,
                                   cfg.output_padding, 1, cfg.dilation, None)
        plan = phase.cached_plan(cfg.batch, tuple(cfg.size), out, p)
        if not plan.phases:                 # all zeros: conv_transpose returns before
            return plan, out, None
        return plan, out, direct._segment_groups(plan, cfg.batch, c_out, out, p.stride,
                                                 SEG_VECTORS, float("inf"))

    @settings(max_examples=200, deadline=None)
    @given(cfg=transposed_configs(), c_out=st.integers(1, 3))
    def test_tables_cover_every_output_once(self, cfg: Config, c_out: int):
        # every position of every phase of channel 0 is stored by exactly one segment
        # lane, and no segment reads past the grid's zeroed margin
        plan, out, tables = self._tables(cfg, c_out)
        assume(plan.phases)                 # an all-zero output has no tables to check
        gph, gF, gstart, gcount, gdst, rofs = tables
        stride = cfg.stride[-1]
        got = [gdst[g, h] + rofs[gph[g] + f] + j * stride
               for g in range(len(gph)) for f in range(gF[g]) for h in range(gstart.shape[1])
               for j in range(gcount[g, f, h])]
        want = []
        image = c_out * int(np.prod(out))
        for ph in plan.phases:
            idx = np.indices(ph.nq).reshape(cfg.ndim, -1)
            pos = np.ravel_multi_index(tuple(i * s + r for i, s, r in zip(idx, cfg.stride, ph.r)),
                                       out)
            want += [b * image + q for b in range(cfg.batch) for q in pos]
        assert sorted(got) == sorted(want)
        reach = max(o for ph in plan.phases for _, o in ph.taps) + plan.front
        assert gstart.max() + 16 + reach <= plan.total + direct.TILE_MARGIN

    @pytest.mark.parametrize("threads", ["1", "2"])
    @pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "opad", "dilation"), [
        ((2, 8, 3, 16, 16), (8, 16, 4, 4, 4), 2, 1, 0, 1),    # e2-like: full segments
        ((2, 6, 5, 37), (6, 12, 4, 4), 2, 1, 1, 1),           # partial segments, 12 rows
        ((1, 16, 4, 40), (16, 8, 3, 3), 3, 1, 2, 1),          # stride 3: three phases a row
        ((2, 16, 3, 35), (16, 8, 2, 2), 3, 0, 0, 1),          # k < s: two of three phases
        ((2, 7, 50), (7, 20, 5), 2, 2, 1, 2),                 # 1-D, one phase of two; 3 blocks
        ((1, 8, 6, 19), (8, 8, 3, 4), (2, 1), (1, 2), 0, 1),  # stride 1 along the rows
    ])
    def test_against_loops_and_reference(self, x_shape, w_shape, stride, padding, opad,
                                         dilation, threads, monkeypatch):
        if not _native.available():
            pytest.skip("numba not installed")
        from tconv._algorithms import _cost

        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        monkeypatch.setattr(direct, "PARALLEL_MACS", 0)
        monkeypatch.setattr(direct, "SEGMENT_COST", float("inf"))   # even short rows
        rng = np.random.default_rng(11)
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        kw = dict(stride=stride, padding=padding, output_padding=opad, groups=1,
                  dilation=dilation)
        calls = _segments_used(monkeypatch)
        got = run("direct", x, w, kw)
        assert bool(calls) == _cost.host_avx512()
        monkeypatch.setattr(direct, "SEGMENTS", False)
        flat = run("direct", x, w, kw)
        ref = run("scatter", x.astype(np.float64), w.astype(np.float64), kw)
        assert got.dtype == np.float32
        assert_close(got, ref, np.float32)
        assert_close(got, flat, np.float32)

    @settings(max_examples=40, deadline=None)
    @given(cfg=transposed_configs(), c_in=st.integers(16, 18), c_out=st.integers(6, 17),
           seed=st.integers(0, 2**31 - 1))
    def test_random_layers(self, cfg: Config, c_in: int, c_out: int, seed: int):
        # any one-group layer (16 or more terms a phase: stored in place), segments
        # forced: against float64 scatter
        if not _native.available():
            pytest.skip("numba not installed")
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((cfg.batch, c_in, *cfg.size)).astype(np.float32)
        w = rng.standard_normal((c_in, c_out, *cfg.kernel)).astype(np.float32)
        kw = dict(stride=cfg.stride, padding=cfg.padding, output_padding=cfg.output_padding,
                  groups=1, dilation=cfg.dilation)
        with _forced_segments() as calls:
            got = run("direct", x, w, kw)
        plan, _, _ = self._tables(cfg, c_out)
        assert bool(calls) == (bool(plan.phases)
                               and direct._tiles_apply(np.float32, c_out))
        assert_close(got, run("scatter", x.astype(np.float64), w.astype(np.float64), kw),
                     np.float32)

    def test_chosen_by_columns(self, monkeypatch):
        # rows of 16 on a pitch of 18: segments (no gap columns); rows of 4: the flat walk
        if not _native.available():
            pytest.skip("numba not installed")
        from tconv._algorithms import _cost

        rng = np.random.default_rng(3)
        w = rng.standard_normal((8, 8, 4, 4)).astype(np.float32)
        for size, want in [((16, 16), True), ((4, 4), False)]:
            calls = _segments_used(monkeypatch)
            x = rng.standard_normal((2, 8, *size)).astype(np.float32)
            got = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="direct")
            assert bool(calls) == (want and _cost.host_avx512())
            ref = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), stride=2,
                                       padding=1, algorithm="scatter")
            assert_close(got, ref, np.float32)

    @settings(max_examples=40, deadline=None)
    @given(cfg=transposed_configs(), c_in=st.integers(6, 17), seed=st.integers(0, 2**31 - 1))
    def test_grad_input(self, cfg: Config, c_in: int, seed: int):
        # grad_input's conv of grad_out over its polyphase planes, as row segments (forced
        # for any row length): against im2col in float64
        if not _native.available():
            pytest.skip("numba not installed")
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((cfg.batch, c_in, *cfg.size)).astype(np.float32)
        w = rng.standard_normal((c_in, cfg.cog, *cfg.kernel)).astype(np.float32)
        p, out = transposed_params("t", x.shape, w.shape, None, cfg.stride, cfg.padding,
                                   cfg.output_padding, 1, cfg.dilation, None)
        gy = rng.standard_normal((cfg.batch, cfg.cog, *out)).astype(np.float32)
        with _forced_segments() as calls:
            gx = direct.grad_input(gy, w, p, cfg.size)
        assert bool(calls) == direct._tiles_apply(np.float32, c_in)
        gx_ref, _ = _grad_refs(x.astype(np.float64), w.astype(np.float64),
                               gy.astype(np.float64), p)
        assert gx.dtype == np.float32
        assert_close(gx, gx_ref, np.float32)

    def test_grad_input_chosen_by_columns(self, monkeypatch):
        # FSRCNN-like rows of 40 (pitch 44): segments; rows of 4: the numba loops
        if not _native.available():
            pytest.skip("numba not installed")
        rng = np.random.default_rng(5)
        w = rng.standard_normal((16, 1, 9, 9)).astype(np.float32)
        for size, want in [((12, 40), True), ((4, 4), False)]:
            x = np.zeros((1, 16, *size), np.float32)
            p, out = transposed_params("t", x.shape, w.shape, None, 2, 4, 1, 1, 1, None)
            gy = rng.standard_normal((1, 1, *out)).astype(np.float32)
            calls = _segments_used(monkeypatch)
            gx = tconv.conv_transpose_backward(gy, x, w, stride=2, padding=4,
                                               output_padding=1)[0]
            assert bool(calls) == (want and direct._tiles_apply(np.float32, 16))
            gx_ref, _ = _grad_refs(x.astype(np.float64), w.astype(np.float64),
                                   gy.astype(np.float64), p)
            assert_close(gx, gx_ref, np.float32)

    def test_nan_and_strided_input(self, monkeypatch):
        # a NaN reaches only the outputs its taps reach (the lanes a segment drops never
        # mix into the kept ones); a transposed (non-contiguous) input gives the same sums
        if not _native.available():
            pytest.skip("numba not installed")
        calls = _segments_used(monkeypatch)
        x = np.ones((1, 8, 4, 16, 16), np.float32)
        x[0, 3, 1, 5, 15] = np.nan
        w = np.ones((8, 8, 4, 4, 4), np.float32)
        y = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="direct")
        ref = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), stride=2,
                                   padding=1, algorithm="scatter")
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
        rng = np.random.default_rng(9)
        xt = rng.standard_normal((16, 16, 4, 8, 2)).astype(np.float32).transpose(4, 3, 2, 1, 0)
        w = rng.standard_normal((8, 8, 4, 4, 4)).astype(np.float32)
        assert not xt.flags.c_contiguous
        assert_close(tconv.conv_transpose(xt, w, stride=2, padding=1, algorithm="direct"),
                     tconv.conv_transpose(xt.astype(np.float64), w.astype(np.float64),
                                          stride=2, padding=1, algorithm="scatter"),
                     np.float32)
        assert bool(calls) == direct._tiles_apply(np.float32, 8)


@pytest.mark.parametrize("seed", range(3))
def test_planes_split_equals_the_numpy_split(seed):
    """``planes`` (one compiled pass from ``grad_out``) equals the padded canvas split by a
    strided NumPy copy, number for number, over seeded layers (1-3-D, strides 1-4,
    paddings past the kernel's reach, crops, output_padding, dilation, non-contiguous
    ``grad_out``), the columns past the grid and the margin after ``G`` zero."""
    import random

    rnd = random.Random(seed)
    checked = stride2 = 0
    for _ in range(80):
        nd = rnd.choice((1, 2, 3))
        k = [rnd.randint(1, 5) for _ in range(nd)]
        s = [rnd.randint(1, 4) for _ in range(nd)]
        d = [rnd.choice((1, 1, 2)) for _ in range(nd)]
        size = [rnd.randint(1, {1: 60, 2: 14, 3: 6}[nd]) for _ in range(nd)]
        pad = [rnd.randint(0, d[a] * (k[a] - 1) + 1) for a in range(nd)]
        op = [rnd.randint(0, max(s[a], d[a]) - 1) for a in range(nd)]
        n, c = rnd.randint(1, 3), rnd.randint(1, 5)
        try:
            p, out = transposed_params("t", (n, c, *size), (c, 2, *k), None, s, pad, op, 1,
                                       d, None)
        except ValueError:
            continue
        gy = np.random.default_rng(rnd.randint(0, 1 << 30)).standard_normal(
            (n, 2, *out)).astype(rnd.choice((np.float32, np.float64)))
        if rnd.random() < 0.3:
            gy = np.asfortranarray(gy)
        # again on a buffer of NaN: every number of G and of the margin is written
        used = direct.planes(gy, p, tuple(size))[0].size + direct.TILE_MARGIN
        direct._parallel.scratch("d_planes", used, gy.dtype)[:] = np.nan
        got = direct.planes(gy, p, tuple(size))
        G = got[0].copy()
        margin = direct._parallel.scratch("d_planes", used, gy.dtype)[G.size:].copy()
        assert margin.size == direct.TILE_MARGIN
        want = direct._numpy_planes(gy, p, tuple(size))
        assert G.shape == want[0].shape and got[1] == want[1]
        np.testing.assert_array_equal(G, want[0])
        np.testing.assert_array_equal(got[2], want[2])
        np.testing.assert_array_equal(got[3], want[3])
        assert not margin.any()
        checked += 1
        stride2 += p.stride[-1] == 2
    assert checked >= 40 and stride2 >= 5
