"""The thread pool changes speed only: results agree to rounding for any thread count,
with or without the BLAS limiter (``threadpoolctl``)."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv._algorithms import _parallel


def _run_all(x, w, gy, xc, wc):
    outs = [tconv.conv_transpose(x, w, None, 2, 1, algorithm=a) for a in ("gemm", "phase")]
    outs += list(tconv.conv_transpose_backward(gy, x, w, 2, 1)[:2])
    outs.append(tconv.conv(xc, wc, None, 2, 1))
    return outs


class TestParallel:
    @pytest.mark.parametrize("threads", ["1", "2", "3"])
    @pytest.mark.parametrize("limiter", [True, False])
    def test_identity(self, threads, limiter, monkeypatch):
        rng = np.random.default_rng(0)
        # 16 images of 24x24 with 40 -> 48 channels: several blocks per call
        x = rng.standard_normal((16, 40, 24, 24))
        w = rng.standard_normal((40, 48, 4, 4))
        gy = rng.standard_normal((16, 48, 48, 48))
        wc = rng.standard_normal((48, 40, 3, 3))
        monkeypatch.setenv("TCONV_NUM_THREADS", "1")
        ref = _run_all(x, w, gy, x, wc)
        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        if not limiter:
            monkeypatch.setattr(_parallel, "_CONTROLLER", None)
        for got, want in zip(_run_all(x, w, gy, x, wc), ref):
            # the weight gradient sums per-thread partials: same terms, another order
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())

    def test_scratch_is_reused(self):
        a = _parallel.scratch("t", 1000, np.float32)
        b = _parallel.scratch("t", 500, np.float32)
        assert a.size == 1000 and b.size == 500 and np.shares_memory(a, b)

    def test_num_threads_env(self, monkeypatch):
        monkeypatch.setenv("TCONV_NUM_THREADS", "3")
        assert _parallel.num_threads() == 3
        monkeypatch.setenv("TCONV_NUM_THREADS", "zero")
        assert _parallel.num_threads() >= 1


@pytest.mark.parametrize("budget", [1, 64, 1000])
def test_small_blocks(budget, monkeypatch):
    """Tiny block budgets force every block split (images, channels, halos): same result."""
    from _oracle import assert_close
    from algorithms._cases import EDGE_CASES, make_case, run, torch_reference

    from tconv._algorithms import _im2col, gemm, phase

    for mod in (gemm, phase, _im2col):
        monkeypatch.setattr(mod, "BLOCK_ELEMENTS", budget)
    monkeypatch.setattr(gemm, "LAST_BLOCK_ELEMENTS", budget)
    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    for case in EDGE_CASES:
        x, w, kw = make_case(case)
        ref = torch_reference(x, w, kw)
        for algo in ("gemm", "phase"):
            assert_close(run(algo, x, w, kw), ref)
        for layout in ("channels_first", "channels_last"):
            p, out = phase_params(x, w, kw)
            if x.shape[0]:
                assert_close(gemm.conv_transpose(x, w, p, out, layout), ref)
        if x.shape[0]:
            gy = np.random.default_rng(2).standard_normal(ref.shape)
            gx, gw, _ = tconv.conv_transpose_backward(gy, x, w, **kw)
            monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", 1 << 20)
            gx1, gw1, _ = tconv.conv_transpose_backward(gy, x, w, **kw)
            monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", budget)
            assert_close(gx, gx1)
            assert_close(gw, gw1)


def phase_params(x, w, kw):
    from tconv.conv import transposed_params

    return transposed_params("t", x.shape, w.shape, None, kw["stride"], kw["padding"],
                             kw["output_padding"], kw["groups"], kw["dilation"], None)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_pool_after_fork():
    """A forked child gets a fresh pool (the parent's threads do not exist there)."""
    import multiprocessing as mp

    x = np.random.default_rng(0).standard_normal((64, 32, 16, 16))   # ~10 blocks
    w = np.random.default_rng(1).standard_normal((32, 32, 4, 4))
    want = tconv.conv_transpose(x, w, None, 2, 1)           # the parent's pool is running
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(tconv.conv_transpose, (x, w, None, 2, 1)).get(timeout=60)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_even_split(threads, monkeypatch):
    """Blocks never exceed the budget and cover every item; equal blocks that the threads
    share (64 images at most 21 a block: 4 x 16 on 2 threads, not 21 + 21 + 21 + 1)."""
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    for total in range(1, 70):
        for most in range(1, 30):
            nb = _parallel.even_split(total, most)
            assert 1 <= nb <= min(total, most)
            k = -(-total // nb)                             # blocks made
            assert (k - 1) * nb < total <= k * nb
    want = {"1": [(64, 21, 16), (64, 64, 64), (8, 2, 2), (1, 5, 1)],
            "2": [(64, 21, 16), (64, 64, 32), (8, 2, 2), (1, 5, 1), (64, 8, 8)],
            "3": [(64, 21, 11), (64, 64, 22), (9, 2, 2), (1, 5, 1)]}[threads]
    for total, most, nb in want:
        assert _parallel.even_split(total, most) == nb, (total, most)
