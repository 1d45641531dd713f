"""tconv.interpolate vs torch.nn.functional.interpolate (the oracle, float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tconv.interpolate import (
    CUBIC_A,
    MODES,
    _cubic_weights,
    _output_size,
    _resample,
    interpolate,
    resample_matrix,
)

from ._oracle import assert_close, check_against_torch, check_same_error

#: (mode, spatial dims) pairs PyTorch accepts
MODE_DIMS = [(m, nd) for m in ("nearest", "nearest-exact", "area") for nd in (1, 2, 3)] + [
    ("linear", 1), ("bilinear", 2), ("bicubic", 2), ("trilinear", 3)]
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
#: scale factors with awkward float behaviour: non-integer up/down, and 1.05 / 2.05, which
#: round to out == in / out == 2*in (ATen's 2-D nearest special cases)
SCALES = (0.3, 0.5, 0.75, 1.0, 1.05, 1.5, 2.0, 2.05, 2.5, 3.0, 4.0)


def _torch_interp(**kw):
    import torch.nn.functional as F

    return lambda t: F.interpolate(t, **kw)


def _align_options(mode):
    return (None, False, True) if mode in INTERPOLATING else (None,)


class TestInterpolate:
    def test_smoke(self, dtype):
        x = np.arange(2 * 3 * 4 * 5, dtype=dtype).reshape(2, 3, 4, 5)
        for mode in ("nearest", "nearest-exact", "bilinear", "bicubic", "area"):
            y = interpolate(x, scale_factor=2, mode=mode)
            assert y.shape == (2, 3, 8, 10) and y.dtype == dtype
        # a constant image stays constant in every mode (weights sum to 1)
        c = np.full((1, 2, 5, 7), 3.5, dtype)
        for mode in ("nearest", "nearest-exact", "bilinear", "bicubic", "area"):
            assert_close(interpolate(c, size=(9, 4), mode=mode), np.full((1, 2, 9, 4), 3.5),
                         dtype)
        # integers compute in float64; float16 computes in float32 and returns float16
        assert interpolate(np.arange(4).reshape(1, 1, 4), scale_factor=2).dtype == np.float64
        assert interpolate(np.ones((1, 1, 4), np.float16), size=6,
                           mode="linear").dtype == np.float16
        assert interpolate(np.zeros((0, 2, 3)), size=5).shape == (0, 2, 5)
        assert MODES == ("nearest", "nearest-exact", "linear", "bilinear", "bicubic",
                         "trilinear", "area")

    @pytest.mark.parametrize("shape, kwargs, match", [
        ((1, 2, 4), dict(size=8, scale_factor=2), "both given"),
        ((1, 2, 4), dict(), "both None"),
        ((1, 2, 4, 4), dict(size=8, mode="linear"), "needs 3-D input"),
        ((1, 2, 4), dict(size=8, mode="bilinear"), "needs 4-D input"),
        ((1, 2, 4, 4, 4), dict(size=8, mode="bicubic"), "needs 4-D input"),
        ((1, 2, 4, 4), dict(size=8, mode="trilinear"), "needs 5-D input"),
        ((2, 4), dict(size=8), "must have 3, 4 or 5 dims"),
        ((1, 1, 1, 1, 1, 4), dict(size=8), "must have 3, 4 or 5 dims"),
        ((1, 2, 4), dict(size=8, mode="cubic"), "mode='cubic' must be one of"),
        ((1, 2, 4), dict(size=8, mode="nearest", align_corners=True), "align_corners"),
        ((1, 2, 4), dict(size=8, mode="nearest-exact", align_corners=False), "align_corners"),
        ((1, 2, 4), dict(size=8, mode="area", align_corners=True), "align_corners"),
        ((1, 2, 4, 4), dict(size=(8, 8, 8)), "must have 2 entries"),
        ((1, 2, 4, 4), dict(size=(8,)), "must have 2 entries"),
        ((1, 2, 4, 4), dict(scale_factor=(2.0, 2.0, 2.0)), "must have 2 entries"),
        ((1, 2, 4), dict(size=0), "must be positive"),
        ((1, 2, 4, 4), dict(size=(8, -1)), "must be positive"),
        ((1, 2, 4), dict(size=(2.5,)), "must be an int"),
        ((1, 2, 4), dict(scale_factor=0.1), "empty output size"),
        ((1, 2, 4), dict(scale_factor=-2.0), "finite and positive"),
        ((1, 2, 4), dict(scale_factor=float("inf")), "finite and positive"),
        ((1, 2, 4), dict(size=8, recompute_scale_factor=True), "not meaningful"),
        ((1, 2, 4, 4), dict(size=8, mode="nearest", antialias=True), "antialias=True needs"),
        ((1, 2, 4), dict(size=8, mode="linear", antialias=True), "antialias=True needs"),
        ((1, 0, 4), dict(size=8), "non-zero size"),
        ((1, 2, 0), dict(size=8), "non-zero size"),
    ])
    def test_exception(self, shape, kwargs, match):
        torch = pytest.importorskip("torch")
        import torch.nn.functional as F

        check_same_error(lambda: interpolate(np.zeros(shape), **kwargs),
                         lambda: F.interpolate(torch.zeros(shape), **kwargs), match=match)

    def test_exception_types(self):
        with pytest.raises(TypeError, match="input has dtype"):
            interpolate(np.array([["a"]], dtype=object)[None], size=2)
        with pytest.raises(TypeError, match="scale_factor='2' must be a number"):
            interpolate(np.zeros((1, 1, 4)), scale_factor="2")
        with pytest.raises(TypeError, match="align_corners=1 must be a bool"):
            interpolate(np.zeros((1, 1, 4)), size=3, mode="linear", align_corners=1)

    @pytest.mark.parametrize("spatial, kwargs, expected", [
        ((5,), dict(size=7), (7,)),
        ((5,), dict(scale_factor=1.5), (7,)),                 # floor(7.5)
        ((5, 3), dict(scale_factor=(0.5, 3)), (2, 9)),
        ((5, 3), dict(size=(1, 1)), (1, 1)),
        ((3, 4, 5), dict(scale_factor=2.05), (6, 8, 10)),
        ((3, 4, 5), dict(size=(2, 9, 1)), (2, 9, 1)),
        ((10,), dict(scale_factor=0.29), (2,)),
    ])
    def test_shape(self, spatial, kwargs, expected):
        x = np.zeros((2, 3, *spatial))
        assert interpolate(x, **kwargs).shape == (2, 3, *expected)
        torch = pytest.importorskip("torch")
        import torch.nn.functional as F

        assert tuple(F.interpolate(torch.zeros(x.shape), **kwargs).shape) == (2, 3, *expected)

    @pytest.mark.parametrize("mode, nd", MODE_DIMS)
    def test_oracle(self, mode, nd):
        """Every mode x align_corners x size / scale_factor (with and without recompute)."""
        rng = np.random.default_rng(nd)
        for trial in range(6):
            spatial = tuple(int(v) for v in rng.integers(1, 9, nd))
            shape = (2, 3, *spatial)
            sizes = tuple(int(v) for v in rng.integers(1, 17, nd))
            factors = tuple(float(rng.choice(SCALES)) for _ in range(nd))
            specs = [dict(size=sizes), dict(size=sizes[0])]
            if all(n * f >= 1 for n, f in zip(spatial, factors)):
                specs += [dict(scale_factor=factors),
                          dict(scale_factor=factors, recompute_scale_factor=True)]
            if all(n * factors[0] >= 1 for n in spatial):
                specs += [dict(scale_factor=factors[0])]
            for spec in specs:
                for ac in _align_options(mode):
                    kw = dict(mode=mode, align_corners=ac, **spec)
                    check_against_torch(lambda a, kw=kw: interpolate(a, **kw),
                                        _torch_interp(**kw), [shape], seed=trial, grad=False)

    @given(st.data())
    def test_oracle_random(self, data):
        """Random sizes, factors and modes, float64: equal to torch up to rounding."""
        mode, nd = data.draw(st.sampled_from(MODE_DIMS))
        spatial = tuple(data.draw(st.lists(st.integers(1, 12), min_size=nd, max_size=nd)))
        ac = data.draw(st.sampled_from(_align_options(mode)))
        if data.draw(st.booleans()):
            spec = dict(size=tuple(data.draw(st.lists(st.integers(1, 20), min_size=nd,
                                                      max_size=nd))))
        else:
            f = tuple(data.draw(st.lists(st.floats(0.25, 4.0).map(lambda v: round(v, 3)),
                                         min_size=nd, max_size=nd)))
            if any(int(n * v) < 1 for n, v in zip(spatial, f)):
                f = tuple(max(v, 1.0) for v in f)
            spec = dict(scale_factor=f, recompute_scale_factor=data.draw(
                st.sampled_from((None, False, True))))
        kw = dict(mode=mode, align_corners=ac, **spec)
        check_against_torch(lambda a: interpolate(a, **kw), _torch_interp(**kw),
                            [(1, 2, *spatial)], grad=False)

    @pytest.mark.parametrize("mode, shape", [
        ("linear", (2, 3, 37)), ("bilinear", (1, 3, 19, 24)), ("bicubic", (1, 3, 19, 24)),
        ("bicubic", (2, 1, 1, 3)), ("trilinear", (1, 2, 5, 6, 9))])
    @pytest.mark.parametrize("factor", [2, 3, 4])
    def test_oracle_float32(self, mode, shape, factor):
        """float32 follows ATen's float32 source-position rounding (incl. factor 3)."""
        kw = dict(mode=mode, scale_factor=factor)
        check_against_torch(lambda a: interpolate(a, **kw), _torch_interp(**kw), [shape],
                            dtype=np.float32, grad=False)

    @pytest.mark.parametrize("factor", [3, 5, 1.7, 2])
    def test_oracle_float32_rounding(self, factor):
        """Long float32 axes: source positions round like ATen's (fused multiply-add).

        Exact arithmetic would differ from torch by ~2e-5 here; following ATen's rounding
        leaves ~2e-7.
        """
        torch = pytest.importorskip("torch")
        import torch.nn.functional as F

        x = np.random.default_rng(0).standard_normal((1, 2, 400)).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(x), scale_factor=factor, mode="linear").numpy()
        assert_close(interpolate(x, scale_factor=factor, mode="linear"), ref, np.float32,
                     tol=1e-6)

    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    @pytest.mark.parametrize("align_corners", [False, True])
    def test_oracle_antialias(self, mode, align_corners, dtype):
        """antialias=True (Pillow's filter) vs torch, up and down, size and scale_factor."""
        rng = np.random.default_rng(3)
        for trial in range(12):
            spatial = tuple(int(v) for v in rng.integers(1, 20, 2))
            if trial % 2:
                spec: dict = dict(size=tuple(int(v) for v in rng.integers(1, 30, 2)))
            else:
                f = tuple(float(rng.choice([0.25, 0.3, 0.5, 0.7, 1.5, 2.0])) for _ in range(2))
                f = tuple(max(v, 1.0 / n) * 1.01 for v, n in zip(f, spatial))
                spec = dict(scale_factor=f)
            out = interpolate(np.zeros((1, 1, *spatial)), **spec).shape[2:]
            if out[1] == 1:     # torch 2.13 repeats row 0 there; see test_antialias_width_one
                continue
            kw = dict(mode=mode, align_corners=align_corners, antialias=True, **spec)
            check_against_torch(lambda a, kw=kw: interpolate(a, **kw), _torch_interp(**kw),
                                [(2, 3, *spatial)], dtype=dtype, seed=trial, grad=False)

    def test_antialias_width_one(self):
        """Output width 1: Pillow's values (torch 2.13 returns its first row H times)."""
        Image = pytest.importorskip("PIL.Image")
        a = np.arange(35, dtype=np.float32).reshape(7, 5)
        for resample, mode in ((Image.BILINEAR, "bilinear"), (Image.BICUBIC, "bicubic")):
            pil = np.asarray(Image.fromarray(a, mode="F").resize((1, 6), resample))
            ours = interpolate(a[None, None], size=(6, 1), mode=mode, antialias=True)[0, 0]
            assert_close(ours, pil, np.float32)

    @pytest.mark.parametrize("mode, shape, factors", [
        ("linear", (2, 3, 21), (2,)), ("linear", (1, 2, 3), (5,)),
        ("bilinear", (2, 3, 17, 9), (2, 4)), ("bilinear", (1, 2, 1, 1), (3, 2)),
        ("bicubic", (2, 3, 17, 9), (4, 2)), ("bicubic", (1, 2, 2, 11), (3, 3)),
        ("bicubic", (1, 1, 9, 8), (2, 1)),          # one fixed-phase axis, one generic
        ("trilinear", (1, 2, 5, 9, 11), (2, 2, 2)), ("trilinear", (1, 2, 3, 4, 5), (2, 1, 3))])
    def test_identity(self, mode, shape, factors, dtype):
        """The fixed-phase fast path equals the generic gather path (and torch)."""
        x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        out = tuple(n * f for n, f in zip(shape[2:], factors))
        for spec in (dict(size=out), dict(scale_factor=factors)):
            fast = interpolate(x, mode=mode, **spec)
            sf = tuple(float(f) for f in factors) if "scale_factor" in spec else (None,) * len(out)
            generic = _resample(x, out, sf, mode, False, fast=False)
            assert_close(fast, generic, dtype)
        kw = dict(mode=mode, scale_factor=factors)
        check_against_torch(lambda a: interpolate(a, **kw), _torch_interp(**kw), [shape],
                            dtype=dtype, grad=False)

    @pytest.mark.parametrize("mode, shape, factor", [
        ("bilinear", (1, 2, 515, 300), 2),      # >= 1M outputs: threaded bands, H % 64 != 0
        ("bicubic", (1, 1, 200, 700), 4),       # fused row pass split into column chunks
        ("trilinear", (1, 1, 8, 40, 48), 2),    # leading-axis pass split along inner
        ("linear", (3, 2, 2000), 3),
        ("bilinear", (1, 3, 300, 450), 4),      # two-tap 2-D path, four phases per axis
        ("bilinear", (1, 1, 2, 70000), 2),      # one band holding both image borders
        ("bilinear", (2, 1, 70000, 2), 2),
        ("bilinear", (2, 5, 130, 1024), 2)])     # planes in groups of 8 (+ 2), bands of 16
    def test_identity_chunked(self, mode, shape, factor):
        """Chunked / threaded fast path on larger inputs equals the generic path."""
        x = np.random.default_rng(1).standard_normal(shape)
        out = tuple(n * factor for n in shape[2:])
        fast = interpolate(x, size=out, mode=mode)      # first: np.empty can't reuse generic's
        generic = _resample(x, out, (None,) * len(out), mode, False, fast=False)
        assert_close(fast, generic)

    @pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
    @pytest.mark.parametrize("shape, factors", [
        ((1, 3, 400, 410), (2, 2)), ((2, 1, 300, 500), (3, 1)), ((1, 2, 333, 400), (1, 4)),
        ((1, 1, 3, 400, 400), (2, 2, 2)), ((1, 1, 400, 400), (2.5, 2))])
    def test_identity_repeat(self, mode, shape, factors):
        """Integer-factor nearest block copies (large planes) == gathers == torch."""
        x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
        x[0, 0, 1, 2] = np.nan
        out = tuple(int(n * f) for n, f in zip(shape[2:], factors))
        kw = dict(scale_factor=factors, mode=mode)
        fast = interpolate(x, **kw)
        generic = _resample(x, out, tuple(float(f) for f in factors), mode, False, fast=False)
        np.testing.assert_array_equal(fast, generic)
        check_against_torch(lambda a: interpolate(a, **kw), _torch_interp(**kw), [shape],
                            dtype=np.float32, grad=False)

    @pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest", "area"])
    def test_oracle_nonfinite(self, mode):
        """inf and nan reach the same outputs as in torch (the fast path steps aside)."""
        torch = pytest.importorskip("torch")
        import torch.nn.functional as F

        x = np.random.default_rng(0).standard_normal((1, 2, 12, 20))
        x[0, 0, 5, 7], x[0, 1, 0, 19], x[0, 1, 8, 3] = np.inf, -np.inf, np.nan
        specs = [dict(scale_factor=2), dict(size=(17, 9))]
        if mode in INTERPOLATING:                    # zero weights at integer positions
            specs += [dict(size=(23, 39), align_corners=True)]
        for spec in specs:
            ref = F.interpolate(torch.from_numpy(x), mode=mode, **spec).numpy()
            y = interpolate(x, mode=mode, **spec)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            assert_close(np.nan_to_num(y), np.nan_to_num(ref))

    @pytest.mark.parametrize("mode, shape, factor, antialias", [
        ("bilinear", (1, 3, 40, 700), 1.5, False),      # m = 1050: tail block of 26
        ("bicubic", (2, 2, 30, 333), 0.7, True),
        ("bicubic", (1, 2, 50, 640), 2.5, False),
        ("area", (1, 3, 64, 1000), 0.37, False),
        ("linear", (4, 8, 3001), 1.3, False),
        ("trilinear", (1, 2, 6, 20, 700), 1.7, False)])
    def test_identity_banded(self, mode, shape, factor, antialias, dtype, monkeypatch):
        """Block-GEMM last-axis pass (large inputs) == per-tap gathers == torch (numba off:
        with it, 2-D linear and cubic modes take the compiled loop, tested below)."""
        monkeypatch.setenv("TCONV_NUMBA", "0")
        x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
        out = tuple(int(n * factor) for n in shape[2:])
        kw = dict(scale_factor=factor, mode=mode, antialias=antialias)
        banded = interpolate(x, **kw)                   # first: np.empty can't reuse
        gathered = _resample(x, out, (factor,) * len(out), mode, False, fast=False,
                             antialias=antialias)
        assert_close(banded, gathered, dtype)
        check_against_torch(lambda a: interpolate(a, **kw), _torch_interp(**kw), [shape],
                            dtype=dtype, grad=False)

    def test_grad(self):
        """interpolate is linear and separable: its adjoint is R_h^T g R_w (torch autograd)."""
        cases = [("bilinear", (5, 7), (9, 4), False), ("bicubic", (4, 6), (11, 13), True),
                 ("area", (9, 7), (4, 3), None), ("nearest-exact", (3, 5), (7, 2), None)]
        for mode, s_in, s_out, ac in cases:
            Rh = resample_matrix(s_in[0], s_out[0], mode, ac)
            Rw = resample_matrix(s_in[1], s_out[1], mode, ac)

            def grad_np(g, x, Rh=Rh, Rw=Rw):
                return [np.einsum("ph,ncpq,qw->nchw", Rh, g, Rw)]

            kw = dict(size=s_out, mode=mode, align_corners=ac)
            check_against_torch(lambda a, kw=kw: interpolate(a, **kw), _torch_interp(**kw),
                                [(2, 3, *s_in)], grad_np=grad_np)

    def test_pillow(self):
        """The Convention section's Pillow claims (float 'F' images, so no 8-bit rounding)."""
        Image = pytest.importorskip("PIL.Image")
        rng = np.random.default_rng(0)
        for (h, w), (H, W) in [((7, 9), (21, 13)), ((16, 12), (8, 6)), ((5, 6), (20, 24))]:
            a = rng.standard_normal((h, w)).astype(np.float32)

            def pil(resample, a=a, H=H, W=W):
                return np.asarray(Image.fromarray(a, mode="F").resize((W, H), resample))

            def ours(mode, a=a, H=H, W=W):
                return interpolate(a[None, None].astype(np.float64), size=(H, W), mode=mode)[0, 0]

            def ours_aa(mode, a=a, H=H, W=W):
                x = a[None, None].astype(np.float64)
                return interpolate(x, size=(H, W), mode=mode, antialias=True)[0, 0]

            np.testing.assert_array_equal(pil(Image.NEAREST), ours("nearest-exact"))
            up = H >= h and W >= w
            bil = np.abs(pil(Image.BILINEAR) - ours("bilinear")).max()
            assert (bil < 1e-6) if up else (bil > 0.1)      # equal up, anti-aliased down
            assert np.abs(pil(Image.BICUBIC) - ours("bicubic")).max() > 0.1
            assert_close(pil(Image.BILINEAR), ours_aa("bilinear"), np.float32)
            assert_close(pil(Image.BICUBIC), ours_aa("bicubic"), np.float32)
        # Pillow BICUBIC is Keys' cubic with a = -0.5 away from the borders (x2 up-sampling)
        row = rng.standard_normal((1, 40)).astype(np.float32)
        big = np.asarray(Image.fromarray(row, mode="F").resize((80, 1), Image.BICUBIC))[0]
        src = (np.arange(80) + 0.5) / 2 - 0.5
        i0 = np.floor(src).astype(int)
        taps = row[0][np.clip(i0[:, None] + np.arange(-1, 3), 0, 39)]
        for a, agrees in ((-0.5, True), (CUBIC_A, False)):
            keys = (taps * _cubic_weights(src - i0, a)).sum(axis=1)
            assert (np.abs(big - keys)[4:-4].max() < 1e-6) == agrees

    def test_scipy_zoom(self):
        """nearest-exact == scipy.ndimage.zoom(order=0, grid_mode=True, mode="nearest")."""
        ndimage = pytest.importorskip("scipy.ndimage")
        a = np.random.default_rng(0).standard_normal((10, 10))
        for size in [(7, 13), (21, 4), (10, 30)]:
            zoom = ndimage.zoom(a, (size[0] / 10, size[1] / 10), order=0, grid_mode=True,
                                mode="nearest")
            np.testing.assert_array_equal(
                zoom, interpolate(a[None, None], size=size, mode="nearest-exact")[0, 0])


class TestCompiled2d:
    """2-D linear/cubic resampling at factors the NumPy fast paths do not take, compiled
    (numba): == the per-tap gathers == torch, threaded, non-finite values, and numba off."""

    @pytest.fixture(autouse=True)
    def _numba(self):
        pytest.importorskip("numba")

    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    @pytest.mark.parametrize("align_corners", [False, True])
    @pytest.mark.parametrize("shape, spec", [
        ((1, 3, 130, 170), dict(scale_factor=1.5)),
        ((2, 2, 160, 150), dict(scale_factor=0.7)),
        ((1, 1, 140, 125), dict(scale_factor=(2.5, 3.0))),
        ((1, 2, 100, 170), dict(size=(37, 1001))),           # tail band, long rows
        ((3, 1, 129, 128), dict(size=(300, 5))),             # thin output
    ])
    def test_identity(self, mode, align_corners, shape, spec, dtype):
        x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
        kw = dict(mode=mode, align_corners=align_corners, **spec)
        got = interpolate(x, **kw)
        assert got.dtype == dtype and got.flags.c_contiguous
        out, factors = _output_size("t", shape[2:], spec.get("size"),
                                    spec.get("scale_factor"), None)
        assert got.shape[2:] == out
        gathered = _resample(x, out, factors, mode, align_corners, fast=False)
        assert_close(got, gathered, dtype)
        check_against_torch(lambda a: interpolate(a, **kw), _torch_interp(**kw), [shape],
                            dtype=dtype, grad=False)

    def test_threads_and_planes(self):
        # 10 planes, 2M outputs (threaded on a multi-core machine); bands of 32 output rows
        # whose input rows overlap
        x = np.random.default_rng(6).standard_normal((2, 5, 300, 400)).astype(np.float32)
        got = interpolate(x, scale_factor=1.3, mode="bicubic")
        ref = _resample(x, got.shape[2:], (1.3, 1.3), "bicubic", False, fast=False)
        assert_close(got, ref, np.float32)

    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    def test_nonfinite(self, mode):
        torch = pytest.importorskip("torch")
        import torch.nn.functional as F

        x = np.random.default_rng(7).standard_normal((1, 2, 120, 150))
        x[0, 0, 50, 70], x[0, 1, 0, 149], x[0, 1, 80, 3] = np.inf, -np.inf, np.nan
        for spec in (dict(scale_factor=1.5), dict(size=(77, 230), align_corners=True)):
            ref = F.interpolate(torch.from_numpy(x), mode=mode, **spec).numpy()
            y = interpolate(x, mode=mode, **spec)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
            assert_close(np.nan_to_num(y), np.nan_to_num(ref))

    def test_numba_off_agrees(self, monkeypatch):
        x = np.random.default_rng(8).standard_normal((1, 3, 200, 260)).astype(np.float32)
        on = interpolate(x, scale_factor=1.5, mode="bilinear")
        monkeypatch.setenv("TCONV_NUMBA", "0")
        off = interpolate(x, scale_factor=1.5, mode="bilinear")
        assert_close(on, off, np.float32)


class TestResampleMatrix:
    def test_smoke(self):
        R = resample_matrix(3, 7, "bicubic")
        assert R.shape == (7, 3)
        np.testing.assert_allclose(R.sum(axis=1), 1.0)

    def test_exception(self):
        with pytest.raises(ValueError, match="n_out=0 must be positive"):
            resample_matrix(3, 0)
        with pytest.raises(ValueError, match="mode='spline' must be one of"):
            resample_matrix(3, 4, "spline")
        with pytest.raises(ValueError, match="align_corners"):
            resample_matrix(3, 4, "area", align_corners=True)
        with pytest.raises(ValueError, match="antialias=True needs"):
            resample_matrix(3, 4, "nearest", antialias=True)

    @pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "bicubic", "area"])
    @pytest.mark.parametrize("n_in, n_out, ac", [(5, 11, False), (11, 4, False), (4, 9, True),
                                                 (1, 5, True), (6, 6, False)])
    def test_oracle(self, mode, n_in, n_out, ac):
        """R @ x reproduces interpolate along one axis (the axis of a 2-D image for cubic)."""
        ac = ac if mode in INTERPOLATING else None
        R = resample_matrix(n_in, n_out, mode, ac)
        x = np.random.default_rng(0).standard_normal((2, 3, 4, n_in))
        mode2 = "bilinear" if mode == "linear" else mode
        y = interpolate(x, size=(4, n_out), mode=mode2, align_corners=ac)
        assert_close(y, x @ R.T)
        if mode in INTERPOLATING:
            R = resample_matrix(n_in, n_out, mode, ac, antialias=True)
            y = interpolate(x, size=(4, n_out), mode=mode2, align_corners=ac, antialias=True)
            assert_close(y, x @ R.T)
