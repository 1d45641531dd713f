"""tconv.kernels: interpolation kernels as transposed convolutions, FCN bilinear, ICNR."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import assert_close

import tconv
from tconv import kernels
from tconv.kernels import (
    bilinear_kernel,
    icnr,
    icnr_transpose,
    init_weight,
    interpolation_kernel,
)

_TORCH_MODE = {("nearest", 1): "nearest", ("nearest", 2): "nearest", ("nearest", 3): "nearest",
               ("linear", 1): "linear", ("linear", 2): "bilinear", ("linear", 3): "trilinear",
               ("cubic", 2): "bicubic"}


def _interp_torch(x: np.ndarray, mode: str, scale: int) -> np.ndarray:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    nd = x.ndim - 2
    tm = _TORCH_MODE[(mode, nd)]
    kw = {} if tm == "nearest" else {"align_corners": False}
    return F.interpolate(torch.tensor(x), scale_factor=scale, mode=tm, **kw).numpy()


def _apply(k: kernels.InterpolationKernel, x: np.ndarray) -> np.ndarray:
    c = x.shape[1]
    return tconv.conv_transpose(x, k.weight(c), None, k.stride, k.padding, k.output_padding,
                                groups=c)


class TestInterpolationKernel:
    def test_smoke(self) -> None:
        k = interpolation_kernel("bilinear", 2)
        assert k.kernel.shape == (4, 4)
        assert k.stride == (2, 2) and k.padding == ((1, 1), (1, 1))
        assert k.output_padding == (0, 0) and k.border == (1, 1)
        assert k.weight(3).shape == (3, 1, 4, 4)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="mode='area' must be one of"):
            interpolation_kernel("area", 2)
        with pytest.raises(ValueError, match="scale=0 must be positive"):
            interpolation_kernel("nearest", 0)
        with pytest.raises(TypeError, match="scale=1.5 must be an int"):
            interpolation_kernel("nearest", 1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ndim=4 must be 1, 2 or 3"):
            interpolation_kernel("nearest", 2, ndim=4)
        with pytest.raises(ValueError, match="channels=0"):
            interpolation_kernel("nearest", 2).weight(0)

    @pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
    @pytest.mark.parametrize("scale", [1, 2, 3, 4])
    def test_shape(self, mode: str, scale: int) -> None:
        k = interpolation_kernel(mode, scale, ndim=1)
        (size,) = k.kernel.shape
        expect = {"nearest": scale, "bilinear": 2 * scale - scale % 2,
                  "bicubic": 4 * scale - scale % 2}[mode]
        assert size == expect
        for n in (1, 2, 7):
            assert tconv.conv_transpose_output_size(n, size, k.stride, k.padding,
                                                    k.output_padding) == (scale * n,)

    @pytest.mark.parametrize("mode,nd", [("nearest", 1), ("nearest", 2), ("nearest", 3),
                                         ("linear", 1), ("bilinear", 2), ("trilinear", 3),
                                         ("bicubic", 2)])
    @pytest.mark.parametrize("scale", [2, 3, 4])
    def test_oracle(self, mode: str, nd: int, scale: int) -> None:
        """Equal to torch's interpolate inside the border band; different in every band row."""
        rng = np.random.default_rng(0)
        shape = {1: (2, 3, 11), 2: (1, 2, 9, 8), 3: (1, 2, 5, 6, 4)}[nd]
        x = rng.standard_normal(shape)
        k = interpolation_kernel(mode, scale, ndim=nd)
        family = kernels._MODES[mode]
        ours, ref = _apply(k, x), _interp_torch(x, family, scale)
        assert ours.shape == ref.shape == (*shape[:2], *(scale * n for n in shape[2:]))
        inner = (Ellipsis, *k.interior)
        assert_close(ours[inner], ref[inner], np.float64)
        # the band is tight: its innermost output per side differs (inside the band a few
        # outputs can agree, e.g. bicubic where the source coordinate is an integer)
        diff = np.abs(ours - ref)
        for axis, b in enumerate(k.border):
            other = tuple(a for a in range(diff.ndim) if a != axis + 2)
            per = diff.max(axis=other)
            # restrict the other spatial dims to their interiors so only this band counts
            sl = [slice(None)] * diff.ndim
            for a2, b2 in enumerate(k.border):
                if a2 != axis:
                    sl[a2 + 2] = slice(b2, -b2 if b2 else None)
            per = diff[tuple(sl)].max(axis=other)
            if b:
                assert per[b - 1] > 1e-6 and per[len(per) - b] > 1e-6, (axis, per)
            assert np.all(per[b:len(per) - b] < 1e-10)

    def test_identity(self) -> None:
        """The linear family is FCN's upsample_filt; nearest is a box; border formulas."""
        for s in range(1, 7):
            k = interpolation_kernel("bilinear", s)
            assert_close(k.kernel, bilinear_kernel(2 * s - s % 2))
            # FCN's padding: ceil((s - 1) / 2)
            assert k.padding[0] == (-(-(s - 1) // 2),) * 2
            assert k.border == (s // 2,) * 2
            assert_close(interpolation_kernel("nearest", s, ndim=1).kernel, np.ones(s))
            kc = interpolation_kernel("bicubic", s, ndim=1)
            assert kc.border == ((s + s // 2) if s > 1 else 0,)
            # interpolation weights sum to 1 over every phase (partition of unity)
            for kk in (k.kernel_1d[0], kc.kernel_1d[0]):
                sums = [kk[r::s].sum() for r in range(s)]
                assert_close(np.array(sums), np.ones(s))

    def test_tuple_scale(self) -> None:
        k = interpolation_kernel("bilinear", (2, 3))
        assert k.kernel.shape == (4, 5)
        assert_close(k.kernel, np.outer(bilinear_kernel(4, 1), bilinear_kernel(5, 1)))
        assert k.border == (1, 1)


class TestInterpolationPhases:
    def test_smoke(self) -> None:
        ph = kernels.interpolation_phases("bilinear", 2, ndim=1)
        assert_close(ph, np.array([[0.25, 0.75, 0.0], [0.0, 0.75, 0.25]]))
        assert kernels.interpolation_phases("bicubic", (2, 3)).shape == (6, 5, 5)
        assert kernels.interpolation_phases("nearest", 3, ndim=3).shape == (27, 1, 1, 1)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="mode='area' must be one of"):
            kernels.interpolation_phases("area", 2)

    @pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
    @pytest.mark.parametrize("scale", [(2,), (3,), (2, 3), (2, 1, 3)])
    def test_identity(self, mode: str, scale: tuple[int, ...]) -> None:
        """"same" conv + pixel shuffle with the phases == the transposed-conv form, everywhere."""
        nd = len(scale)
        x = np.random.default_rng(0).standard_normal((1, 2, *(5,) * nd))
        ph = kernels.interpolation_phases(mode, scale, nd)
        radius = (ph.shape[1] - 1) // 2
        w = np.zeros((2 * ph.shape[0], 1, *ph.shape[1:]))
        w[:ph.shape[0], 0] = ph
        w[ph.shape[0]:, 0] = ph
        y = _np_pixel_shuffle(tconv.conv(x, w, padding=radius, groups=2), scale)
        assert_close(y, _apply(interpolation_kernel(mode, scale), x))


class TestBilinearKernel:
    def test_smoke(self) -> None:
        # FCN surgery.upsample_filt(4), pasted from its formula for size 4:
        # factor=2, center=1.5, og=1-|t-1.5|/2 -> [0.25, 0.75, 0.75, 0.25]
        assert_close(bilinear_kernel(4, ndim=1), np.array([0.25, 0.75, 0.75, 0.25]))
        assert bilinear_kernel((3, 4, 5)).shape == (3, 4, 5)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="kernel_size=0 must be positive"):
            bilinear_kernel(0)
        with pytest.raises(ValueError, match="ndim=0"):
            bilinear_kernel(3, ndim=0)


def _phase_response(w: np.ndarray, stride: int, padding: int, n: int = 12) -> np.ndarray:
    """Transposed conv of a constant input, interior only (NumPy core)."""
    nd = w.ndim - 2
    x = np.ones((1, w.shape[0], *(n,) * nd))
    y = tconv.conv_transpose(x, w, None, stride, padding)
    cut = w.shape[2]
    return y[(Ellipsis, *(slice(cut, -cut),) * nd)]


class TestIcnr:
    def test_smoke(self) -> None:
        w = icnr((12, 2, 3, 3), 2, rng=0)
        assert w.shape == (12, 2, 3, 3)
        assert np.all(w.reshape(3, 4, 2, 3, 3) == w.reshape(3, 4, 2, 3, 3)[:, :1])

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="must be a multiple of prod\\(scale\\)=4"):
            icnr((6, 2, 3, 3), 2)
        with pytest.raises(ValueError, match="init='bogus' must be one of"):
            icnr((4, 2, 3, 3), 2, init="bogus")
        with pytest.raises(ValueError, match="3, 4 or 5 dims"):
            icnr((4, 2), 2)

    def test_seed(self) -> None:
        assert np.array_equal(icnr((8, 1, 3), 2, rng=5), icnr((8, 1, 3), 2, rng=5))
        assert not np.array_equal(icnr((8, 1, 3), 2, rng=5), icnr((8, 1, 3), 2, rng=6))

    @pytest.mark.parametrize("nd", [1, 2, 3])
    def test_identity(self, nd: int) -> None:
        """conv + pixel shuffle with ICNR weights == conv with the base, then nearest."""
        torch = pytest.importorskip("torch")
        F = torch.nn.functional
        r, c_out, c_in = 2, 2, 3
        w = icnr((c_out * r**nd, c_in, *(3,) * nd), r, rng=1)
        x = np.random.default_rng(2).standard_normal((1, c_in, *(5,) * nd))
        y = tconv.conv(x, w, padding=1)                       # (1, C*r^d, *S)
        # pixel shuffle written out: (N, C, r, .., r, *S) -> (N, C, S1, r, S2, r, ..)
        y = y.reshape(1, c_out, *(r,) * nd, *(5,) * nd)
        perm = [0, 1] + [a for i in range(nd) for a in (2 + nd + i, 2 + i)]
        y = y.transpose(perm).reshape(1, c_out, *(5 * r,) * nd)
        base = tconv.conv(x, w[:: r**nd], padding=1)
        ref = F.interpolate(torch.tensor(base), scale_factor=r, mode="nearest").numpy()
        assert_close(y, ref)

    def test_init_weight(self) -> None:
        w = init_weight((64, 32, 3, 3), "kaiming_normal", rng=0)
        assert abs(w.std() - np.sqrt(2 / (32 * 9))) < 0.01
        w = init_weight((2, 3), lambda shape, g: np.zeros(shape))
        assert np.all(w == 0)
        with pytest.raises(ValueError, match="init returned shape"):
            init_weight((2, 3), lambda shape, g: np.zeros(4))


class TestIcnrTranspose:
    def test_exception(self) -> None:
        with pytest.raises(ValueError, match=r"kernel size \(3, 4\) must be a multiple"):
            icnr_transpose((2, 2, 3, 4), 2)

    @pytest.mark.parametrize("nd,stride,k,p", [(1, 2, 4, 1), (2, 2, 4, 1), (2, 3, 6, 2),
                                               (3, 2, 4, 1), (2, 2, 2, 0)])
    def test_identity(self, nd: int, stride: int, k: int, p: int) -> None:
        """Constant in, constant out (interior); default init is not."""
        w = icnr_transpose((3, 2, *(k,) * nd), stride, rng=0)
        y = _phase_response(w, stride, p)
        for c in range(2):
            assert np.ptp(y[0, c]) < 1e-10
        w0 = init_weight((3, 2, *(k,) * nd), rng=0)
        assert np.ptp(_phase_response(w0, stride, p)[0, 0]) > 1e-3
        # equal per-phase sums along each kernel axis
        for axis in range(nd):
            sums = [np.take(w, range(r, k, stride), axis=2 + axis).sum() for r in range(stride)]
            assert_close(np.array(sums), np.full(stride, sums[0]))


def _pad_crop(x: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Zero-pad (positive) or crop (negative) the trailing spatial dims, NumPy."""
    nd = len(pairs)
    x = np.pad(x, [(0, 0)] * (x.ndim - nd) + [(max(lo, 0), max(hi, 0)) for lo, hi in pairs])
    sl = tuple(slice(max(-lo, 0), n - max(-hi, 0))
               for (lo, hi), n in zip(pairs, x.shape[-nd:], strict=True))
    return x[(Ellipsis, *sl)]


def _np_pixel_shuffle(y: np.ndarray, r: tuple[int, ...]) -> np.ndarray:
    """(N, C*prod(r), *S) -> (N, C, *(S*r)): phase fastest, as torch.pixel_shuffle."""
    nd = len(r)
    n, c, *size = y.shape
    y = y.reshape(n, c // int(np.prod(r)), *r, *size)
    perm = [0, 1] + [a for i in range(nd) for a in (2 + nd + i, 2 + i)]
    return y.transpose(perm).reshape(n, -1, *(s * f for s, f in zip(size, r, strict=True)))


def _insert_zeros(x: np.ndarray, stride: tuple[int, ...]) -> np.ndarray:
    nd = len(stride)
    size = x.shape[-nd:]
    out = np.zeros((*x.shape[:-nd], *((n - 1) * s + 1 for n, s in zip(size, stride, strict=True))))
    out[(Ellipsis, *(slice(None, None, s) for s in stride))] = x
    return out


_FORM_CASES = [  # (ndim, C_in, C_out, groups, K, stride, padding, output_padding, dilation, S_in)
    (2, 56, 1, 1, 9, 2, 4, 1, 1, 6),       # FSRCNN
    (2, 3, 2, 1, 4, 2, 1, 0, 1, 5),        # DCGAN
    (1, 2, 3, 1, 5, 3, 1, 2, 1, 7),
    (3, 2, 2, 2, 3, 2, 0, 1, 1, 3),
    (2, 4, 2, 2, (3, 4), (2, 3), (1, 0), (0, 2), (2, 1), (4, 3)),
    (1, 1, 1, 1, 2, 3, 0, 0, 1, 4),        # kernel smaller than stride: empty phase
    (1, 2, 3, 1, 2, 3, "same", 0, 1, 6),   # "same" with K < stride: negative crop (adds zeros)
    (2, 2, 2, 1, 5, 2, "same", 0, 1, 4),
]


def _check_forms(nd, c_in, c_out, groups, k, stride, padding, op, dilation, size, seed=0):
    rng = np.random.default_rng(seed)
    ks = (k,) * nd if isinstance(k, int) else k
    sz = (size,) * nd if isinstance(size, int) else size
    w = rng.standard_normal((c_in, c_out // groups, *ks))
    b = rng.standard_normal(c_out)
    x = rng.standard_normal((2, c_in, *sz))
    ref = tconv.conv_transpose(x, w, b, stride, padding, op, groups, dilation)

    f = kernels.subpixel_form(w, b, stride, padding, op, groups, dilation)
    y = tconv.conv(_pad_crop(x, f.pad), f.weight, f.bias, groups=f.groups)
    y = _pad_crop(_np_pixel_shuffle(y, f.scale), tuple((-lo, -hi) for lo, hi in f.crop))
    assert_close(y, ref)

    z = kernels.zero_insertion_form(w, b, stride, padding, op, groups, dilation)
    y = tconv.conv(_pad_crop(_insert_zeros(x, z.stride), z.pad), z.weight, z.bias,
                   dilation=z.dilation, groups=z.groups)
    assert_close(y, ref)


class TestForms:
    @pytest.mark.parametrize("case", _FORM_CASES)
    def test_identity(self, case: tuple) -> None:
        """pad -> conv -> shuffle -> crop, and zeros -> pad -> conv, equal conv_transpose."""
        _check_forms(*case)

    def test_property(self) -> None:
        from hypothesis import given, settings
        from strategies import transposed_configs

        @settings(max_examples=40)
        @given(transposed_configs())
        def check(cfg) -> None:
            _check_forms(cfg.ndim, cfg.c_in, cfg.c_out, cfg.groups, cfg.kernel, cfg.stride,
                         cfg.padding, cfg.output_padding, cfg.dilation, cfg.size)
        check()

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="output_padding=.* must be smaller"):
            kernels.subpixel_form(np.ones((1, 1, 3)), stride=2, output_padding=2)
        with pytest.raises(ValueError, match="3, 4 or 5 dims"):
            kernels.zero_insertion_form(np.ones((1, 3)))

    def test_shape(self) -> None:
        f = kernels.subpixel_form(np.ones((56, 1, 9, 9)), stride=2, padding=4, output_padding=1)
        assert f.weight.shape == (4, 56, 5, 5) and f.pad == ((2, 2), (2, 2))
        assert f.crop == ((0, 0), (0, 0))
