"""tconv.nn.convert: exact ConvTranspose -> (conv + pixel shuffle) and -> (zeros + conv)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _oracle import assert_close  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from strategies import Config, transposed_configs  # noqa: E402

from tconv.nn import (  # noqa: E402
    PadCrop,
    Upsample,
    ZeroInsertion,
    to_pixel_shuffle,
    to_zero_insertion,
)

_CT = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}


def _layer(cfg: Config, bias: bool = True, dtype=torch.float64) -> torch.nn.Module:
    return _CT[cfg.ndim](cfg.c_in, cfg.c_out, cfg.kernel, stride=cfg.stride,
                         padding=cfg.padding, output_padding=cfg.output_padding,
                         groups=cfg.groups, dilation=cfg.dilation, bias=bias, dtype=dtype)


def _check(cfg: Config, seed: int = 0) -> None:
    torch.manual_seed(seed)
    layer = _layer(cfg, bias=seed % 2 == 0)
    x = torch.randn(cfg.batch, cfg.c_in, *cfg.size, dtype=torch.float64)
    ref = layer(x).detach().numpy()
    for convert in (to_pixel_shuffle, to_zero_insertion):
        out = convert(layer)(x).detach().numpy()
        assert_close(out, ref, np.float64)


FSRCNN = Config(2, 1, 1, 56, 1, (6, 7), (9, 9), (2, 2), (1, 1), (4, 4), (1, 1))
CASES = [
    FSRCNN,
    Config(2, 2, 1, 3, 2, (5, 4), (4, 4), (2, 2), (1, 1), (1, 1), (0, 0)),      # DCGAN
    Config(1, 1, 1, 2, 3, (7,), (5,), (3,), (1,), (1,), (2,)),
    Config(3, 1, 2, 1, 2, (3, 2, 3), (3, 2, 4), (2, 1, 2), (1, 1, 1), (0, 0, 1), (1, 0, 1)),
    Config(2, 1, 2, 2, 1, (4, 3), (3, 4), (2, 3), (2, 1), (1, 0), (0, 2)),    # dilation, groups
    Config(1, 1, 1, 1, 1, (4,), (2,), (3,), (1,), (0,), (0,)),                # kernel < stride
    Config(2, 1, 1, 2, 2, (3, 3), (3, 3), (1, 1), (1, 1), (2, 2), (0, 0)),    # stride 1
]


class TestToPixelShuffle:
    def test_smoke(self) -> None:
        layer = torch.nn.ConvTranspose2d(56, 1, 9, stride=2, padding=4, output_padding=1)
        sub = to_pixel_shuffle(layer)
        assert [n for n, _ in sub.named_children()] == ["conv", "shuffle"]
        assert sub.conv.weight.shape == (4, 56, 5, 5) and sub.conv.padding == (2, 2)

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="layer must be an nn.ConvTranspose1d/2d/3d"):
            to_pixel_shuffle(torch.nn.Conv2d(1, 1, 3))
        with pytest.raises(TypeError, match="method='nearest' has no transposed"):
            to_zero_insertion(Upsample(2, 2, 2, method="nearest"))

    @pytest.mark.parametrize("cfg", CASES, ids=lambda c: f"{c.ndim}d-k{c.kernel}-s{c.stride}")
    def test_identity(self, cfg: Config) -> None:
        """Both conversions equal the layer in float64 (< 1e-10), with and without bias."""
        _check(cfg, 0)
        _check(cfg, 1)

    @settings(max_examples=20)
    @given(transposed_configs())
    def test_property(self, cfg: Config) -> None:
        _check(cfg)

    def test_float32(self, dtype: np.dtype) -> None:
        """Weights are rearranged, not recomputed: float32 converts to 1e-5, dtype kept."""
        td = getattr(torch, dtype.name)
        torch.manual_seed(0)
        layer = Upsample(4, 3, 2, dtype=td)
        x = torch.randn(2, 4, 8, 8, dtype=td)
        for convert in (to_pixel_shuffle, to_zero_insertion):
            sub = convert(layer)
            assert sub.conv.weight.dtype == td
            assert_close(sub(x).detach().numpy(), layer(x).detach().numpy(), dtype)

    def test_grad(self) -> None:
        """Gradients w.r.t. the input agree too (the converted module is differentiable)."""
        torch.manual_seed(0)
        layer = _layer(CASES[1])
        x = torch.randn(1, 3, 5, 4, dtype=torch.float64, requires_grad=True)
        layer(x).square().sum().backward()
        g_ref, x.grad = x.grad.clone(), None
        to_pixel_shuffle(layer)(x).square().sum().backward()
        assert_close(x.grad.numpy(), g_ref.numpy())

    def test_script(self) -> None:
        torch.manual_seed(0)
        layer = _layer(CASES[3])
        x = torch.randn(1, 2, 3, 2, 3, dtype=torch.float64)
        for convert in (to_pixel_shuffle, to_zero_insertion):
            sub = convert(layer)
            assert torch.equal(torch.jit.script(sub)(x), sub(x))


class TestHelpers:
    def test_pad_crop(self) -> None:
        x = torch.arange(20.0).view(1, 1, 4, 5)
        y = PadCrop([(-1, 2), (1, -2)])(x)
        ref = np.pad(x.numpy()[..., 1:, :3], [(0, 0), (0, 0), (0, 2), (1, 0)])
        np.testing.assert_array_equal(y.numpy(), ref)

    def test_zero_insertion(self) -> None:
        x = torch.randn(2, 3, 4, 3)
        y = ZeroInsertion([3, 2])(x)
        ref = np.zeros((2, 3, 10, 5), dtype=np.float32)
        ref[..., ::3, ::2] = x.numpy()
        np.testing.assert_array_equal(y.numpy(), ref)


class TestToZeroInsertion:
    def test_smoke(self) -> None:
        layer = torch.nn.ConvTranspose2d(56, 1, 9, stride=2, padding=4, output_padding=1)
        zi = to_zero_insertion(layer)
        assert [n for n, _ in zi.named_children()] == ["zeros", "pad", "conv"]
        assert zi.conv.weight.shape == (1, 56, 9, 9)
        # flipped kernel, swapped channels
        np.testing.assert_array_equal(zi.conv.weight.detach().numpy()[0, 5],
                                      layer.weight.detach().numpy()[5, 0, ::-1, ::-1])

    def test_exception(self) -> None:
        layer = torch.nn.ConvTranspose2d(1, 1, 3)
        layer.padding_mode = "reflect"
        with pytest.raises(ValueError, match="padding_mode='reflect' must be 'zeros'"):
            to_zero_insertion(layer)
