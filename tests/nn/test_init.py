"""tconv.nn.init: in-place torch initialisers built from tconv.kernels."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _oracle import assert_close  # noqa: E402

from tconv import kernels  # noqa: E402
from tconv.nn import (  # noqa: E402
    bilinear_,
    icnr_,
    icnr_transpose_,
    interpolation_subpixel_,
)


class TestBilinear:
    def test_smoke(self) -> None:
        w = bilinear_(torch.empty(3, 3, 4, 4))
        assert_close(w[1, 1].numpy(), kernels.bilinear_kernel(4), np.float32)
        assert float(w[0, 1].abs().sum()) == 0.0

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="has 3 input and 2 output channels per group"):
            bilinear_(torch.empty(3, 2, 4, 4))
        with pytest.raises(ValueError, match="groups=2 must divide C_in=3"):
            bilinear_(torch.empty(3, 1, 4), groups=2)

    def test_oracle(self) -> None:
        """A depthwise ConvTranspose2d with bilinear_ == F.interpolate in the interior."""
        s, c = 4, 3
        k = kernels.interpolation_kernel("bilinear", s)
        layer = torch.nn.ConvTranspose2d(c, c, k.kernel.shape, stride=s, padding=k.padding[0][0],
                                         groups=c, bias=False, dtype=torch.float64)
        bilinear_(layer.weight, groups=c)
        x = torch.randn(1, c, 6, 5, dtype=torch.float64)
        ref = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
        inner = (Ellipsis, *k.interior)
        assert_close(layer(x).detach().numpy()[inner], ref.numpy()[inner])


class TestIcnr:
    def test_smoke(self) -> None:
        w = icnr_(torch.empty(12, 2, 3, 3), 2, rng=0)
        assert_close(w.numpy(), kernels.icnr((12, 2, 3, 3), 2, rng=0), np.float32)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="weight_shape\\[0\\]=6 must be a multiple"):
            icnr_(torch.empty(6, 2, 3, 3), 2)
        with pytest.raises(ValueError, match="must be a multiple of stride"):
            icnr_transpose_(torch.empty(2, 2, 3, 3), 2)

    def test_identity(self) -> None:
        """conv -> pixel_shuffle with ICNR == conv with the base -> nearest."""
        conv = torch.nn.Conv2d(3, 2 * 9, 3, padding=1, bias=False, dtype=torch.float64)
        icnr_(conv.weight, 3, rng=1)
        x = torch.randn(1, 3, 5, 4, dtype=torch.float64)
        y = F.pixel_shuffle(conv(x), 3)
        ref = F.interpolate(F.conv2d(x, conv.weight[::9], padding=1), scale_factor=3)
        assert_close(y.detach().numpy(), ref.detach().numpy())

    def test_transpose(self) -> None:
        """A ConvTranspose with icnr_transpose_ answers a constant with a constant."""
        layer = torch.nn.ConvTranspose2d(3, 2, 6, stride=3, padding=2, dtype=torch.float64)
        icnr_transpose_(layer.weight, 3, rng=2)
        y = layer(torch.ones(1, 3, 8, 8, dtype=torch.float64)).detach().numpy()
        inner = y[0, :, 6:-6, 6:-6]
        assert max(np.ptp(inner[c]) for c in range(2)) < 1e-12

    def test_torch_seed(self) -> None:
        torch.manual_seed(0)
        a = icnr_(torch.empty(4, 1, 3), 2).clone()
        torch.manual_seed(0)
        b = icnr_(torch.empty(4, 1, 3), 2)
        assert torch.equal(a, b)


class TestInterpolationSubpixel:
    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="must have C \\* prod\\(scale\\) = 2 \\* 4"):
            interpolation_subpixel_(torch.empty(6, 2, 3, 3), 2)
        with pytest.raises(ValueError, match="must be odd and at least \\(5, 5\\)"):
            interpolation_subpixel_(torch.empty(4, 1, 3, 3), 2, "bicubic")

    @pytest.mark.parametrize("mode,k", [("bilinear", 3), ("bilinear", 5), ("bicubic", 5),
                                        ("nearest", 3)])
    def test_oracle(self, mode: str, k: int) -> None:
        """conv (same) + pixel_shuffle == F.interpolate in the interior, float64."""
        s, c = 3, 2
        conv = torch.nn.Conv2d(c, c * s * s, k, padding=k // 2, bias=False,
                               dtype=torch.float64)
        interpolation_subpixel_(conv.weight, s, mode)
        x = torch.randn(1, c, 6, 7, dtype=torch.float64)
        kw = {} if mode == "nearest" else {"align_corners": False}
        ref = F.interpolate(x, scale_factor=s, mode=mode, **kw)
        inner = (Ellipsis, *kernels.interpolation_kernel(mode, s).interior)
        y = F.pixel_shuffle(conv(x), s)
        assert_close(y.detach().numpy()[inner], ref.numpy()[inner])
