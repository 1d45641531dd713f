"""tconv.nn.Upsample: every method, exact sizes, oracles against torch and the NumPy core."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _oracle import TOL, assert_close  # noqa: E402

import tconv  # noqa: E402
from tconv.kernels import interpolation_kernel  # noqa: E402
from tconv.nn import METHODS, Upsample, transposed_geometry  # noqa: E402

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _methods(nd: int) -> list[str]:
    return [m for m in METHODS if not (m == "bicubic" and nd != 2)]


def _tdtype(dtype: np.dtype) -> torch.dtype:
    return getattr(torch, np.dtype(dtype).name)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


class TestUpsample:
    def test_smoke(self) -> None:
        up = Upsample(4, 2, 2)
        assert up(torch.randn(1, 4, 5, 6)).shape == (1, 2, 10, 12)
        assert isinstance(up.conv, torch.nn.ConvTranspose2d)
        assert up.conv.kernel_size == (4, 4) and up.conv.padding == (1, 1)
        assert Upsample(3, 3, 2, method="nearest").conv is None
        assert "method='transposed'" in repr(up)

    def test_exception(self) -> None:
        cases = [
            (dict(scale=0), ValueError, "scale=0 must be a positive integer"),
            (dict(scale=1.5), TypeError, "scale=1.5 must be an int"),
            (dict(scale=2.0), TypeError, "scale=2.0 must be an int"),
            (dict(method="deconv"), ValueError, "method='deconv' must be one of"),
            (dict(init="xavier"), ValueError, "init='xavier' must be one of"),
            (dict(method="resize_conv", init="icnr"), ValueError,
             "init='icnr' is not available for method='resize_conv'"),
            (dict(method="bicubic", ndim=3), ValueError, "method='bicubic' needs ndim=2"),
            (dict(method="bicubic", ndim=1), ValueError, "method='bicubic' needs ndim=2"),
            (dict(ndim=4), ValueError, "ndim=4 must be 1, 2 or 3"),
            (dict(kernel_size=1), ValueError, "kernel_size=1 must be >= scale=2"),
            (dict(scale=1, kernel_size=2), ValueError, "kernel_size=2 must be odd for scale=1"),
            (dict(method="pixel_shuffle", kernel_size=4), ValueError,
             "kernel_size=4 must be odd for method='pixel_shuffle'"),
            (dict(method="nearest", kernel_size=3), ValueError, "kernel_size=3 must be 1"),
            (dict(init="bilinear"), ValueError, "init='bilinear' needs in_channels == "
                                                "out_channels"),
            (dict(method="resize_conv", resize_mode="area"), ValueError,
             "resize_mode='area' must be"),
            (dict(init="icnr", kernel_size=5), ValueError,
             r"kernel size \(5, 5\) must be a multiple of stride"),
        ]
        for kw, exc, match in cases:
            args = dict(in_channels=3, out_channels=2, scale=2)
            args.update(kw)
            with pytest.raises(exc, match=match):
                Upsample(**args)
        with pytest.raises(TypeError, match="in_channels='3' must be an int"):
            Upsample("3", 2, 2)  # type: ignore[arg-type]

    @pytest.mark.parametrize("nd", [1, 2, 3])
    @pytest.mark.parametrize("scale", [1, 2, 3])
    def test_shape(self, nd: int, scale: int, dtype: np.dtype) -> None:
        """Output is exactly scale * input for every method, init, dtype and odd sizes."""
        torch.manual_seed(0)
        size = {1: (7,), 2: (5, 4), 3: (3, 2, 3)}[nd]
        x = torch.randn(2, 3, *size, dtype=_tdtype(dtype))
        for method in _methods(nd):
            inits = {"transposed": ["default", "icnr"], "pixel_shuffle": ["default", "icnr"]}
            for init in inits.get(method, ["default"]):
                up = Upsample(3, 2, scale, method=method, init=init, ndim=nd, rng=0)
                y = up.to(_tdtype(dtype))(x)
                assert y.shape == (2, 2, *(scale * n for n in size)), (method, init)
                assert y.dtype == x.dtype
        for k in (scale, scale + 1, 2 * scale + 3):
            if scale == 1 and k % 2 == 0:
                continue
            y = Upsample(3, 2, scale, kernel_size=k, ndim=nd).to(_tdtype(dtype))(x)
            assert y.shape == (2, 2, *(scale * n for n in size))

    @pytest.mark.parametrize("scale,k,expect", [(2, 4, (1, 0)), (2, 9, (4, 1)), (2, 3, (1, 1)),
                                                (3, 3, (0, 0)), (3, 5, (1, 0)), (4, 8, (2, 0)),
                                                (1, 3, (1, 0))])
    def test_geometry(self, scale: int, k: int, expect: tuple[int, int]) -> None:
        assert transposed_geometry(scale, k) == expect
        p, op = expect
        for n in (1, 3, 8):
            assert tconv.conv_transpose_output_size(n, k, scale, p, op) == (scale * n,)

    @pytest.mark.parametrize("nd", [1, 2, 3])
    def test_oracle(self, nd: int) -> None:
        """Fixed methods == F.interpolate; learned methods == the NumPy core / torch ops."""
        torch.manual_seed(0)
        size = {1: (9,), 2: (6, 5), 3: (4, 3, 4)}[nd]
        x = torch.randn(2, 3, *size, dtype=torch.float64)
        for method in ("nearest", "bilinear", "bicubic"):
            if method == "bicubic" and nd != 2:
                continue
            mode = {"nearest": "nearest", "bilinear": _LINEAR[nd], "bicubic": "bicubic"}[method]
            kw = {} if mode == "nearest" else {"align_corners": False}
            same = Upsample(3, 3, 3, method=method, ndim=nd).double()
            assert_close(_np(same(x)), _np(F.interpolate(x, scale_factor=3, mode=mode, **kw)))
            # channel change: the 1x1 conv runs first; it commutes with the resize exactly
            mixed = Upsample(3, 2, 3, method=method, ndim=nd).double()
            conv = mixed.conv
            after = conv(F.interpolate(x, scale_factor=3, mode=mode, **kw))
            assert_close(_np(mixed(x)), _np(after))
        # transposed: the NumPy core with the layer's own weight and geometry
        up = Upsample(3, 2, 2, ndim=nd).double()
        c = up.conv
        ref = tconv.conv_transpose(_np(x), _np(c.weight), _np(c.bias), c.stride, c.padding,
                                   c.output_padding)
        assert_close(_np(up(x)), ref)
        # resize_conv: interpolate, then the core's conv with "same" padding
        for resize_mode in ("nearest", "bilinear"):
            up = Upsample(3, 2, 2, method="resize_conv", ndim=nd,
                          resize_mode=resize_mode).double()
            mode = "nearest" if resize_mode == "nearest" else _LINEAR[nd]
            kw = {} if mode == "nearest" else {"align_corners": False}
            r = _np(F.interpolate(x, scale_factor=2, mode=mode, **kw))
            ref = tconv.conv(r, _np(up.conv.weight), _np(up.conv.bias), padding=1)
            assert_close(_np(up(x)), ref)

    @pytest.mark.parametrize("nd,scale", [(1, 2), (2, 2), (2, 3), (2, 4), (3, 2)])
    def test_bilinear_init(self, nd: int, scale: int) -> None:
        """init='bilinear' == F.interpolate(bi/trilinear) inside interpolation_kernel's border."""
        size = {1: (11,), 2: (7, 6), 3: (4, 5, 4)}[nd]
        x = torch.randn(1, 2, *size, dtype=torch.float64)
        ref = F.interpolate(x, scale_factor=scale, mode=_LINEAR[nd], align_corners=False)
        inner = (Ellipsis, *interpolation_kernel("bilinear", scale, nd).interior)
        for method in ("transposed", "pixel_shuffle"):
            up = Upsample(2, 2, scale, method, init="bilinear", ndim=nd, dtype=torch.float64)
            assert_close(_np(up(x))[inner], _np(ref)[inner])
            assert np.abs(_np(up(x)) - _np(ref)).max() > 1e-3   # the border does differ

    @pytest.mark.parametrize("nd", [1, 2, 3])
    def test_icnr(self, nd: int) -> None:
        """ICNR layers are conv + nearest at init: constant in -> constant out (interior)."""
        size = (10,) * nd if nd < 3 else (6,) * 3
        ones = torch.ones(1, 3, *size, dtype=torch.float64)
        x = torch.randn(1, 3, *size, dtype=torch.float64)
        # pixel_shuffle + ICNR == nearest up-sampling of the conv with the base weight
        ps = Upsample(3, 2, 2, method="pixel_shuffle", init="icnr", ndim=nd, rng=0).double()
        w, b = ps.conv.weight[:: 2**nd], ps.conv.bias[:: 2**nd]
        base = tconv.conv(_np(x), _np(w), _np(b), padding=1)
        ref = F.interpolate(torch.tensor(base), scale_factor=2, mode="nearest")
        assert_close(_np(ps(x)), _np(ref))
        # transposed + ICNR: the interior response to a constant is constant; default is not
        for init, flat in (("icnr", True), ("default", False)):
            torch.manual_seed(1)
            tr = Upsample(3, 2, 2, init=init, ndim=nd, rng=0).double()
            y = _np(tr(ones))[(Ellipsis, *(slice(4, -4),) * nd)]
            spread = max(np.ptp(y[0, c]) for c in range(2))
            assert (spread < TOL[np.dtype(np.float64)]) == flat, (init, spread)

    def test_rng(self) -> None:
        a = Upsample(2, 2, 2, method="pixel_shuffle", init="icnr", rng=3)
        b = Upsample(2, 2, 2, method="pixel_shuffle", init="icnr", rng=3)
        assert torch.equal(a.conv.weight, b.conv.weight)
        torch.manual_seed(7)
        c = Upsample(2, 2, 2, method="pixel_shuffle", init="icnr")
        torch.manual_seed(7)
        d = Upsample(2, 2, 2, method="pixel_shuffle", init="icnr")
        assert torch.equal(c.conv.weight, d.conv.weight)

    @pytest.mark.parametrize("method", METHODS)
    def test_grad(self, method: str) -> None:
        torch.manual_seed(0)
        up = Upsample(2, 3 if method != "bilinear" else 2, 2, method=method).double()
        x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(up, (x,))

    @pytest.mark.parametrize("nd", [1, 2, 3])
    def test_script(self, nd: int) -> None:
        """torch.jit.script and torch.jit.trace give the eager output, every method."""
        torch.manual_seed(0)
        x = torch.randn(1, 2, *(4,) * nd)
        for method in _methods(nd):
            up = Upsample(2, 3, 2, method=method, ndim=nd).eval()
            ref = up(x)
            assert torch.equal(torch.jit.script(up)(x), ref), method
            assert torch.equal(torch.jit.trace(up, x)(x), ref), method

    @pytest.mark.skipif(not os.environ.get("TCONV_TEST_COMPILE"),
                        reason="torch.compile takes minutes on a small CPU; "
                               "set TCONV_TEST_COMPILE=1")
    def test_compile(self) -> None:
        x = torch.randn(1, 2, 6, 6)
        for method in METHODS:
            up = Upsample(2, 3, 2, method=method).eval()
            torch.testing.assert_close(torch.compile(up)(x), up(x))

    def test_device(self) -> None:
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
        for method in METHODS:
            up = Upsample(2, 3, 2, method=method).double()
            y = up.cuda()(x.cuda())
            assert y.is_cuda
            torch.testing.assert_close(y.cpu(), up.cpu()(x), rtol=0, atol=1e-10)


class TestTorchStyle:
    """``Upsample(scale_factor=..., mode=...)`` is ``torch.nn.Upsample``'s call."""

    @pytest.mark.parametrize("kwargs", [
        dict(scale_factor=2, mode="bilinear"), dict(scale_factor=2),
        dict(scale_factor=(1.5, 2.25), mode="bilinear", align_corners=True),
        dict(size=(5, 7), mode="bicubic"), dict(size=9, mode="nearest-exact"),
        dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
        dict(scale_factor=0.5, mode="area")])
    def test_oracle(self, kwargs: dict) -> None:
        x = torch.randn(2, 3, 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        ours, theirs = Upsample(**kwargs), torch.nn.Upsample(**kwargs)
        assert torch.equal(ours(x), theirs(x))
        assert (ours.size, ours.scale_factor, ours.mode, ours.align_corners) == (
            theirs.size, theirs.scale_factor, theirs.mode, theirs.align_corners)

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="cannot be combined with torch.nn.Upsample"):
            Upsample(3, 3, 2, mode="bilinear")
        with pytest.raises(TypeError, match="give in_channels, out_channels and scale"):
            Upsample()
        with pytest.raises(ValueError):                   # torch's own message
            Upsample(mode="bilinear")(torch.zeros(1, 1, 2, 2))


class TestDefaultKernel:
    @pytest.mark.parametrize("nd", [1, 2, 3])
    @pytest.mark.parametrize("scale", [1, 2, 3, 4, 5])
    def test_even_overlap(self, nd: int, scale: int) -> None:
        """The default transposed kernel is a multiple of the scale: every output phase
        receives the same number of taps (no checkerboard built into the geometry)."""
        up = Upsample(2, 2, scale, ndim=nd)
        k = up.conv.kernel_size
        assert all(ki % scale == 0 for ki in k), k
        counts = tconv.checkerboard.overlap_map(k, scale, ndim=nd)
        assert counts.min() == counts.max()
        x = torch.zeros(1, 2, *(5,) * nd)
        assert up(x).shape[2:] == (5 * scale,) * nd

    def test_bilinear_keeps_fcn_kernel(self) -> None:
        """init="bilinear" keeps FCN's 2s - 1 taps at odd s: uneven tap counts, equal sums."""
        up = Upsample(1, 1, 3, init="bilinear", dtype=torch.float64)
        assert up.conv.kernel_size == (5, 5)
        rep = tconv.nn.layer_report(up)
        assert rep.score == 0.0 and rep.phase_spread[0] < 1e-12
