"""DCGAN (Radford, Metz & Chintala, 2015) with a selectable up-sampling method.

The generator maps a random vector to a full-size image: a dense projection to a
``4 x 4`` feature map, then ``log2(image_size / 4)`` steps that each double rows and
columns -- strided transposed convolutions in the paper, here any
:class:`tconv.nn.Upsample` method -- with BatchNorm + ReLU between them and ``tanh`` at
the end. The discriminator mirrors it with strided convolutions and LeakyReLU(0.2)
(no BatchNorm on its first layer), ending in one logit per image::

    z (N, latent) -> (N, 8f, 4, 4) -> (N, 4f, 8, 8) -> (N, 2f, 16, 16) -> (N, C, 32, 32)
                     projection      up x2 + BN/ReLU   up x2 + BN/ReLU    up x2 + tanh

Weights are drawn from N(0, 0.02) (BatchNorm scales from N(1, 0.02)), as in the paper.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import nn

__all__ = ["DCGANConfig", "Generator", "Discriminator", "init_weights", "METHODS", "VARIANTS"]

#: up-sampling methods of the generator (``tconv.nn.Upsample`` names)
METHODS = ("transposed", "resize_conv", "pixel_shuffle")
#: named generator choices for comparisons: label -> (method, init)
VARIANTS: dict[str, tuple[str, str]] = {
    "transposed": ("transposed", "default"),
    "resize_conv": ("resize_conv", "default"),
    "pixel_shuffle": ("pixel_shuffle", "default"),
    "transposed_icnr": ("transposed", "icnr"),
    "pixel_shuffle_icnr": ("pixel_shuffle", "icnr"),
}


@dataclass
class DCGANConfig:
    """Architecture of both networks.

    Args:
        latent_dim: length of the random vector ``z``.
        channels: image channels (1 grayscale, 3 RGB).
        image_size: rows = columns of the images, a power of two >= 8.
        g_features: generator width ``f`` (its last hidden layer has ``f`` channels).
        d_features: discriminator width (its first layer has this many channels).
        method: generator up-sampling, one of :data:`METHODS`.
        kernel_size: kernel of each up-sampling layer; ``None`` picks 4 for ``transposed``
            (the paper's 4x4 stride-2 layer) and ``tconv.nn.Upsample``'s default otherwise.
        init: ``"default"`` (the paper's N(0, 0.02)) or ``"icnr"`` (``pixel_shuffle`` and
            ``transposed``: an N(0, 0.02) base kernel copied to every output phase, free of
            checkerboard at initialisation).
    """

    latent_dim: int = 64
    channels: int = 1
    image_size: int = 32
    g_features: int = 32
    d_features: int = 32
    method: str = "transposed"
    kernel_size: int | None = None
    init: str = "default"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"DCGANConfig: method={self.method!r} must be one of "
                             f"{', '.join(map(repr, METHODS))}")
        n = self.image_size
        if n < 8 or n & (n - 1):
            raise ValueError(f"DCGANConfig: image_size={n} must be a power of two >= 8")
        if self.init not in ("default", "icnr"):
            raise ValueError(f"DCGANConfig: init={self.init!r} must be 'default' or 'icnr' "
                             "(bilinear needs equal in/out channels, which a DCGAN "
                             "generator never has)")
        if self.init == "icnr" and self.method == "resize_conv":
            raise ValueError("DCGANConfig: init='icnr' applies to method='pixel_shuffle' or "
                             "'transposed', not 'resize_conv'")
        for name in ("latent_dim", "channels", "g_features", "d_features"):
            if getattr(self, name) < 1:
                raise ValueError(f"DCGANConfig: {name}={getattr(self, name)} must be >= 1")

    @property
    def n_up(self) -> int:
        """Number of x2 up-sampling steps after the 4x4 projection."""
        return int(math.log2(self.image_size)) - 2

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _upsample(cfg: DCGANConfig, c_in: int, c_out: int) -> nn.Module:
    from tconv.nn import Upsample

    k = cfg.kernel_size if cfg.kernel_size is not None else (
        4 if cfg.method == "transposed" else None)
    return Upsample(c_in, c_out, 2, method=cfg.method, kernel_size=k, init=cfg.init)


class Generator(nn.Module):
    """Random vector -> image in ``[-1, 1]``.

    Shape:
        ``(N, latent_dim)`` or ``(N, latent_dim, 1, 1)`` ->
        ``(N, channels, image_size, image_size)``.
    """

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.g_features * 2 ** (cfg.n_up - 1)
        # the projection: a dense layer written as a 4x4 transposed conv on a 1x1 input
        layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.latent_dim, c, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(cfg.n_up - 1):
            layers += [_upsample(cfg, c, c // 2), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [_upsample(cfg, c, cfg.channels), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """Image -> one real/fake logit per image (use ``BCEWithLogitsLoss``).

    Shape:
        ``(N, channels, image_size, image_size)`` -> ``(N,)``.
    """

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        c = cfg.d_features
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, c, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for _ in range(cfg.n_up - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c),
                       nn.LeakyReLU(0.2, True)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=False)]   # 4x4 -> 1x1 logit
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(-1)


M = TypeVar("M", bound=nn.Module)


def init_weights(model: M) -> M:
    """The paper's initialisation, in place: conv weights N(0, 0.02), BatchNorm N(1, 0.02).

    Up-sampling layers built with ``init="icnr"`` then get ICNR with an N(0, 0.02) base.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    _reapply_upsample_init(model)
    return model


def _normal_002(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, 0.02, shape)


def _reapply_upsample_init(model: nn.Module) -> None:
    """ICNR on top of the paper's N(0, 0.02): the base kernel is drawn from N(0, 0.02) and
    copied to every output phase, so the layer starts free of checkerboard."""
    from tconv.nn import Upsample, icnr_, icnr_transpose_

    for m in model.modules():
        if isinstance(m, Upsample) and m.init == "icnr":
            conv = m.conv
            assert isinstance(conv, nn.Conv2d | nn.ConvTranspose2d)   # icnr: always a conv
            weight = conv.weight
            if m.method == "pixel_shuffle":
                icnr_(weight, m.scale, init=_normal_002)
            else:
                icnr_transpose_(weight, m.scale, init=_normal_002)
