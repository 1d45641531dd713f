"""Gradients vs torch autograd, and the adjoint identities (grad of conv IS conv_transpose)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _layers import small_layer
from _oracle import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import Config, conv_configs, transposed_configs

import tconv

torch = pytest.importorskip("torch")
F = torch.nn.functional
T_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
T_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _autograd(fn, x, w, b, g):
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = fn(*ts)
    assert y.shape == g.shape
    (y * torch.tensor(g)).sum().backward()
    return [t.grad.numpy() for t in ts]


class TestConvBackward:
    def test_smoke(self):
        gx, gw, gb = tconv.conv_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)),
                                         np.ones((1, 1, 3, 3)))
        assert gx.shape == (1, 1, 4, 4) and gw.shape == (1, 1, 3, 3) and gb.tolist() == [4.0]

    @settings(max_examples=400)
    @given(cfg=conv_configs(), seed=st.integers(0, 2**31 - 1))
    def test_grad(self, cfg: Config, seed: int):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size))
        w = rng.standard_normal((cfg.c_out, cfg.cig, *cfg.kernel))
        b = rng.standard_normal(cfg.c_out)
        y = tconv.conv(x, w, b, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        g = rng.standard_normal(y.shape)
        ref = _autograd(lambda *t: T_CONV[cfg.ndim](*t, cfg.stride, cfg.padding, cfg.dilation,
                                                    cfg.groups), x, w, b, g)
        ours = tconv.conv_backward(g, x, w, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        for a, r in zip(ours, ref):
            assert_close(a, r)

    def test_identity(self, rng):
        """grad_x of conv is literally conv_transpose of grad_out with the same weight."""
        x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3))
        g = rng.standard_normal((2, 6, 5, 4))
        gx, _, _ = tconv.conv_backward(g, x, w, stride=2, padding=1, groups=2)
        assert_close(gx, tconv.conv_transpose(g, w, None, 2, 1, (0, 1), 2))

    def test_exception(self):
        with pytest.raises(ValueError, match="grad_out"):
            tconv.conv_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))


class TestConvTransposeBackward:
    @settings(max_examples=400)
    @given(cfg=transposed_configs(), seed=st.integers(0, 2**31 - 1))
    def test_grad(self, cfg: Config, seed: int):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size))
        w = rng.standard_normal((cfg.c_in, cfg.cog, *cfg.kernel))
        b = rng.standard_normal(cfg.c_out)
        g = rng.standard_normal((cfg.batch, cfg.c_out, *cfg.out_size()))
        ref = _autograd(lambda *t: T_CONVT[cfg.ndim](*t, cfg.stride, cfg.padding,
                                                     cfg.output_padding, cfg.groups,
                                                     cfg.dilation), x, w, b, g)
        ours = tconv.conv_transpose_backward(g, x, w, cfg.stride, cfg.padding,
                                             cfg.output_padding, cfg.groups, cfg.dilation)
        for a, r in zip(ours, ref):
            assert_close(a, r)

    def test_identity(self, rng):
        """grad_x of conv_transpose is literally conv of grad_out with the same weight."""
        x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 3, 4, 4))
        g = rng.standard_normal((2, 6, 10, 10))
        gx, _, _ = tconv.conv_transpose_backward(g, x, w, stride=2, padding=1, groups=2)
        assert_close(gx, tconv.conv(g, w, None, 2, 1, 1, 2))

    def test_unbatched_and_pairs(self, rng):
        x, w = rng.standard_normal((2, 4)), rng.standard_normal((2, 3, 3))
        y = tconv.conv_transpose(x, w, stride=2, padding=((0, 2),))
        g = rng.standard_normal(y.shape)
        gx, gw, gb = tconv.conv_transpose_backward(g, x, w, stride=2, padding=((0, 2),))
        # check against finite differences of <g, y(x)> (independent of the implementation)
        eps = 1e-6
        for idx in np.ndindex(*x.shape):
            xp = x.copy()
            xp[idx] += eps
            num = (np.vdot(g, tconv.conv_transpose(xp, w, stride=2, padding=((0, 2),)))
                   - np.vdot(g, y)) / eps
            assert abs(num - gx[idx]) < 1e-4
        assert gw.shape == w.shape and gb.shape == (3,)


def _drawn_inputs(rng: np.random.Generator, layer: tuple, i: int, batch_hi: int
                  ) -> tuple[np.ndarray, np.ndarray, dict, type]:
    """A drawn layer's ``x`` (batch below ``batch_hi``) and ``w`` -- float32 on odd draws
    ``i``, float64 on even ones -- its keyword arguments and its dtype."""
    nd, s, d, k, g, cig, cog, size, pad, op = layer
    dtype = np.float32 if i % 2 else np.float64
    x = rng.standard_normal((int(rng.integers(1, batch_hi)), g * cig, *size)).astype(dtype)
    w = rng.standard_normal((g * cig, cog, *(k,) * nd)).astype(dtype)
    kw = dict(stride=s, padding=pad, output_padding=op, groups=g, dilation=d)
    return x, w, kw, dtype


def _population(rng: np.random.Generator, count: int, draw: tuple, batch_hi: int):
    """``count`` draws of :func:`small_layer` (arguments ``draw``), the valid ones with
    their :func:`_drawn_inputs`: ``(i, layer, x, w, kw, dtype)``."""
    for i in range(count):
        layer = small_layer(rng, *draw)
        if layer is not None:
            yield (i, layer, *_drawn_inputs(rng, layer, i, batch_hi))


def _assert_torch_grads(grads: tuple, x: np.ndarray, w: np.ndarray, gy: np.ndarray,
                        kw: dict) -> None:
    """``grads (grad_x, grad_w)`` in ``x``'s dtype equal torch's float64 autograd, their
    NaNs exactly where torch's are."""
    fn = getattr(torch.nn.functional, f"conv_transpose{x.ndim - 2}d")
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    fn(xt, wt, **kw).backward(torch.tensor(gy, dtype=torch.float64))
    for got, ref in zip(grads, (xt.grad.numpy(), wt.grad.numpy())):
        assert got.dtype == x.dtype and got.shape == ref.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        ok = ~np.isnan(ref)
        assert_close(got[ok], ref[ok], x.dtype)


class TestTakenWindows:
    """The shared-im2col backward on short input rows (the cost model's ``take_cols``):
    each block's windows of ``grad_out`` taken through a remembered index, zeros where a
    window leaves it -- against torch, and against the window copy it replaces."""

    @pytest.mark.parametrize("numba", ["1", "0"])
    def test_population_against_torch_and_the_window_copy(self, numba, monkeypatch):
        # 60 seeded layers above the small-layer gather (1-3-D, groups, dilation, crops,
        # output_padding, batches up to 5), float32 and float64, NaNs in some grad_outs:
        # the gradients equal torch's float64 autograd, and the window copy's to rounding
        import dataclasses

        from tconv import grad
        from tconv._algorithms import _cost

        monkeypatch.setenv("TCONV_NUMBA", numba)
        base = dataclasses.replace(_cost.constants(), gather_max=0, numpy_gather_max=0)
        rng = np.random.default_rng(53)
        taken = dims = 0
        seen_dims: set[int] = set()
        for i, layer, x, w, kw, dtype in _population(rng, 60, (4, 3, 9, 9, (30, 12, 6)), 6):
            nd, s, d, k, g, cig, cog, size, pad, op = layer
            gy = rng.standard_normal(tconv.conv_transpose(x, w, **kw).shape).astype(dtype)
            if i % 7 == 0:
                gy.flat[int(rng.integers(gy.size))] = np.nan
            p = _cost.params(x.shape, w.shape, s, pad, op, g, d)
            results = []
            for run in (1 << 30, 0):                   # take everything, then never
                c = dataclasses.replace(base, take_cols_run=run)
                monkeypatch.setattr(_cost, "constants", lambda c=c: c)
                _cost.clear_decisions()
                decision = _cost.decide(x.shape, w.shape, p, dtype)
                if run and decision.shared_im2col:
                    assert decision.take_cols == (_cost.take_cols(x.shape, w.shape, p, c))
                    taken += decision.take_cols
                    seen_dims.add(nd)
                results.append(grad._transpose_gradients_gemm(gy, x, w, p))
            _cost.clear_decisions()
            for grads in results:
                _assert_torch_grads(grads, x, w, gy, kw)
            dims += 1
        assert taken >= dims // 2 and seen_dims == {1, 2, 3}

    def test_rule(self):
        # short last input dim and a small index: taken; a long row or a large index: not
        from tconv._algorithms import _cost

        c = _cost.constants()
        p = _cost.params((2, 8, 6, 6), (8, 4, 3, 3), 2, 1)
        assert _cost.take_cols((2, 8, 6, 6), (8, 4, 3, 3), p, c)
        long_row = _cost.params((2, 8, 6, c.take_cols_run), (8, 4, 3, 3), 2, 1)
        assert not _cost.take_cols((2, 8, 6, c.take_cols_run), (8, 4, 3, 3), long_row, c)
        cog = c.take_cols_index // (36 * 9) + 1                # index just over the bound
        wide = _cost.params((2, 8, 6, 6), (8, cog, 3, 3), 2, 1)
        assert not _cost.take_cols((2, 8, 6, 6), (8, cog, 3, 3), wide, c)
        assert _cost.take_cols((2, 8, 6, 6), (8, cog - 1, 3, 3), wide, c) is \
            (36 * (cog - 1) * 9 <= c.take_cols_index)

    def test_large_rows_in_blocks(self, monkeypatch):
        # an image too large for one block (blocks of its output rows; an index above the
        # shipped bound, which keeps taken layers within one block), grouped, padded: the
        # taken windows of each row block equal the window copy's
        import dataclasses

        from tconv import grad
        from tconv._algorithms import _cost

        rng = np.random.default_rng(7)
        x = rng.standard_normal((2, 6, 3000, 16))
        w = rng.standard_normal((6, 4, 3, 3))
        p = _cost.params(x.shape, w.shape, 2, 1, 1, 2)
        gy = rng.standard_normal((2, 8, *p.transposed_size(x.shape[2:])))
        c = dataclasses.replace(_cost.constants(), take_cols_index=1 << 22)
        monkeypatch.setattr(_cost, "constants", lambda: c)
        assert _cost.take_cols(x.shape, w.shape, p, c)
        taken = grad._transpose_gradients_gemm(gy, x, w, p)
        monkeypatch.setattr(_cost, "constants",
                            lambda: dataclasses.replace(c, take_cols_run=0))
        copied = grad._transpose_gradients_gemm(gy, x, w, p)
        for a, b in zip(taken, copied):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-10)


class TestSmallLayerGradients:
    """Small layers (the cost model's ``gather``): both gradients from one gather of
    ``grad_out``'s windows and one product a group each -- depthwise, 1x1 and one-position
    layers too."""

    @pytest.mark.parametrize("numba", ["1", "0"])
    def test_population_against_torch(self, numba, monkeypatch):
        # 120 seeded small layers (1-3-D, groups, dilation, crops, output_padding), float32
        # and float64, a NaN in some grad_outs: against torch's autograd in float64, the
        # NaNs exactly where torch's are; the population reaches the path, on depthwise,
        # 1x1 and one-position layers among others
        from tconv._algorithms import _cost

        monkeypatch.setenv("TCONV_NUMBA", numba)
        rng = np.random.default_rng(41)
        reached = 0
        kinds: set[str] = set()
        for i, layer, x, w, kw, dtype in _population(rng, 120, (4, 2, 5, 6, (25, 8, 4)), 4):
            nd, s, d, k, g, cig, cog, size, pad, op = layer
            if _cost.decide(x.shape, w.shape, _cost.params(x.shape, w.shape, s, pad, op, g,
                                                           d), dtype).gather:
                reached += 1
                kinds |= {name for name, yes in (("depthwise", cig == cog == 1),
                                                 ("1x1", k == 1),
                                                 ("one position", math.prod(size) == 1))
                          if yes}
            gy = rng.standard_normal(tconv.conv_transpose(x, w, **kw).shape).astype(dtype)
            if i % 9 == 0:
                gy.flat[int(rng.integers(gy.size))] = np.nan
            _assert_torch_grads(tconv.conv_transpose_backward(gy, x, w, **kw)[:2], x, w, gy,
                                kw)
        assert reached >= 60
        assert kinds == {"depthwise", "1x1", "one position"}

    @pytest.mark.parametrize("numba", ["1", "0"])
    def test_route_is_the_product_bound(self, numba, monkeypatch):
        # conv_transpose_backward gathers exactly the layers whose gemm product and input
        # hold at most the bound in force (gather_max, numpy_gather_max without numba) and
        # whose multiply-adds a group stay within gather_group_macs, on seeded layers either side
        # of the bounds -- dense, grouped and depthwise
        from tconv import grad
        from tconv._algorithms import _cost

        monkeypatch.setenv("TCONV_NUMBA", numba)
        c = _cost.constants()
        bound = c.gather_max if _cost._native.available() else c.numpy_gather_max
        calls = []
        real = grad._transpose_gradients_gather
        monkeypatch.setattr(grad, "_transpose_gradients_gather",
                            lambda *a: calls.append(1) or real(*a))
        rng = np.random.default_rng(3)
        sides = set()
        for i in range(60):
            g = int(rng.choice([1, 2, 8]))
            cig, cog = (1, 1) if i % 3 == 0 else (int(rng.choice([1, 4, 64, 256])),
                                                  int(rng.integers(1, 9)))
            g = 8 if i % 3 == 0 else g
            n, k, side = int(rng.integers(1, 5)), int(rng.integers(1, 6)), \
                int(rng.integers(2, 300))
            x = rng.standard_normal((n, g * cig, side, 3)).astype(np.float32)
            w = rng.standard_normal((g * cig, cog, k, k)).astype(np.float32)
            numbers = n * g * cog * k * k * side * 3
            want = (max(numbers, x.size) <= bound
                    and numbers * cig // g <= c.gather_group_macs)
            gy = np.ones(tconv.conv_transpose(x, w, stride=2, groups=g).shape, np.float32)
            calls.clear()
            tconv.conv_transpose_backward(gy, x, w, stride=2, groups=g)
            assert bool(calls) == want, (x.shape, w.shape)
            sides.add((want, numbers <= bound))
        assert sides == {(True, True), (False, True), (False, False)}


def test_bias_grad_is_the_sum_over_batch_and_positions():
    """``grad_bias`` (one einsum over batch and positions) against the float64 sum on a
    seeded population: 1-3 spatial dims, float32 and float64, strided grad_out, empty
    batches and sizes, inf and nan where a plain sum has them; both backward functions
    return it."""
    from tconv.grad import _bias_grad

    rng = np.random.default_rng(41)
    for i in range(40):
        nd = 1 + i % 3
        shape = (int(rng.integers(0 if i % 13 == 0 else 1, 6)), int(rng.integers(1, 9)),
                 *(int(rng.integers(0 if i % 11 == 0 else 1, 40 // nd)) for _ in range(nd)))
        dtype = (np.float32, np.float64)[i % 2]
        gy = rng.standard_normal(shape).astype(dtype)
        if i % 4 == 1:
            gy = np.flip(gy, axis=-1)                      # a view with a negative stride
        if i % 5 == 2 and gy.size >= 3:
            gy.reshape(-1)[rng.integers(gy.size, size=2)] = [np.inf, np.nan]
        axes = (0, *range(2, gy.ndim))
        want = gy.astype(np.float64).sum(axis=axes)
        with np.errstate(invalid="ignore"):
            got = _bias_grad(gy)
        assert got.shape == (shape[1],) and got.dtype == dtype
        # (inf and nan in the same places, the finite sums close)
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)
    x, w = rng.standard_normal((3, 4, 5, 6)), rng.standard_normal((4, 2, 3, 3))
    gy = rng.standard_normal((3, 2, 11, 13))
    gb = tconv.conv_transpose_backward(gy, x, w, stride=2)[2]
    np.testing.assert_allclose(gb, gy.sum(axis=(0, 2, 3)), rtol=1e-12)
    gy_c = rng.standard_normal((3, 2, 3, 4))
    np.testing.assert_allclose(tconv.conv_backward(gy_c, x, w.swapaxes(0, 1)[:, :4])[2],
                               gy_c.sum(axis=(0, 2, 3)), rtol=1e-12)
