"""tconv.nn.shuffle: pixel shuffle / unshuffle in 1-3 spatial dims."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tconv.nn import PixelShuffle, PixelUnshuffle, pixel_shuffle, pixel_unshuffle  # noqa: E402


def np_shuffle(x: np.ndarray, r: tuple[int, ...]) -> np.ndarray:
    """Independent reference by explicit loops over sub-pixels.

    out[n, c, h*r0 + i, ...] = x[n, c*prod(r) + flat(i, ...), h, ...]
    """
    nd = len(r)
    n, cr, *size = x.shape
    phases = int(np.prod(r))
    c = cr // phases
    out = np.zeros((n, c, *(s * f for s, f in zip(size, r, strict=True))), x.dtype)
    for ph, idx in enumerate(np.ndindex(*r)):
        sl = tuple(slice(i, None, f) for i, f in zip(idx, r, strict=True))
        out[(slice(None), slice(None), *sl)] = x[:, ph::phases][:, :c]
    assert out.ndim == nd + 2
    return out


class TestPixelShuffle:
    def test_smoke(self) -> None:
        assert PixelShuffle(2, ndim=1)(torch.zeros(2, 6, 5)).shape == (2, 3, 10)
        assert PixelShuffle((2, 3), ndim=2)(torch.zeros(1, 12, 4, 5)).shape == (1, 2, 8, 15)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="input channels 6 must be divisible by "
                                             "prod\\(upscale_factor\\)=4"):
            pixel_shuffle(torch.zeros(1, 6, 3, 3), 2)
        with pytest.raises(ValueError, match="ndim=4 must be 1, 2 or 3"):
            pixel_shuffle(torch.zeros(1, 4, 3), 2, ndim=4)
        with pytest.raises(TypeError, match="factor=1.5 must be an int"):
            PixelShuffle(1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="factor=0 must be positive"):
            PixelShuffle(0)
        with pytest.raises(ValueError, match="must be divisible by downscale_factor"):
            pixel_unshuffle(torch.zeros(1, 1, 5, 4), 2)
        with pytest.raises(ValueError, match="at least 3 dims"):
            pixel_shuffle(torch.zeros(4, 4), 2)

    def test_oracle(self, dtype: np.dtype) -> None:
        """2-D: equal to torch.nn.functional.pixel_shuffle / unshuffle (also unbatched)."""
        F = torch.nn.functional
        x = torch.randn(2, 3 * 9, 4, 5, dtype=getattr(torch, dtype.name))
        assert torch.equal(pixel_shuffle(x, 3), F.pixel_shuffle(x, 3))
        assert torch.equal(pixel_shuffle(x[0], 3), F.pixel_shuffle(x[0], 3))
        y = torch.randn(2, 3, 8, 6, dtype=getattr(torch, dtype.name))
        assert torch.equal(pixel_unshuffle(y, 2), F.pixel_unshuffle(y, 2))

    @pytest.mark.parametrize("r", [(3,), (2, 3), (2, 1, 3), (2, 2, 2)])
    def test_identity(self, r: tuple[int, ...]) -> None:
        """1-3-D: equal to the loop reference; unshuffle inverts shuffle."""
        nd = len(r)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 2 * int(np.prod(r)), *(3,) * nd))
        y = pixel_shuffle(torch.tensor(x), r, ndim=nd)
        np.testing.assert_array_equal(y.numpy(), np_shuffle(x, r))
        back = pixel_unshuffle(y, r, ndim=nd)
        np.testing.assert_array_equal(back.numpy(), x)
        assert torch.equal(PixelUnshuffle(r, nd)(PixelShuffle(r, nd)(torch.tensor(x))),
                           torch.tensor(x))

    def test_grad(self) -> None:
        x = torch.randn(1, 8, 2, 3, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: pixel_shuffle(t, 2, ndim=3), (x,))

    def test_script(self) -> None:
        x = torch.randn(1, 8, 2, 3, 2)
        for m in (PixelShuffle(2, 3), PixelUnshuffle(1, 3)):
            assert torch.equal(torch.jit.script(m)(x), m(x))
