"""An FCN-style segmentation network with a selectable decoder up-sampling.

Encoder: a full-resolution stem, then ``depth`` stages that each halve rows and columns
with a strided 3x3 convolution and double the channels. Decoder (Long, Shelhamer & Darrell's
"restore the input size to classify every pixel"): at each stage a 1x1 convolution reduces
the channels to the next-finer stage's, a :class:`tconv.nn.Upsample` doubles rows and
columns *without changing channels*, the encoder feature of that resolution is added (the
skip connection, fused by addition as in FCN), and a 3x3 convolution refines::

    x (N, 3, H, W) -> f0 (w, H) -> f1 (2w, H/2) -> ... -> fD (2^D w, H/2^D)
    fD -> 1x1 -> up x2 -> + f(D-1) -> 3x3 -> ... -> + f0 -> 3x3 -> 1x1 -> (N, K, H, W)

Because the up-sampling keeps channels, ``method="bilinear"`` is a fixed, parameter-free
bilinear interpolation and ``method="transposed", init="bilinear"`` is a learnable 4x4
stride-2 transposed convolution that *starts* as exactly that interpolation (FCN's choice).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["SegConfig", "FCN", "VARIANTS"]

#: named decoder choices for comparisons: label -> (Upsample method, init)
VARIANTS: dict[str, tuple[str, str]] = {
    "transposed": ("transposed", "default"),
    "transposed_bilinear": ("transposed", "bilinear"),
    "bilinear": ("bilinear", "default"),
    "nearest": ("nearest", "default"),
    "resize_conv": ("resize_conv", "default"),
    "pixel_shuffle": ("pixel_shuffle", "default"),
    "pixel_shuffle_icnr": ("pixel_shuffle", "icnr"),
}

_METHODS = ("transposed", "resize_conv", "pixel_shuffle", "nearest", "bilinear", "bicubic")


@dataclass
class SegConfig:
    """Architecture.

    Args:
        in_channels: image channels.
        num_classes: output classes (``K``).
        width: channels of the full-resolution stage (``w``).
        depth: number of x2 down-sampling stages; input rows/columns must be divisible by
            ``2**depth``.
        method: decoder up-sampling (a :class:`tconv.nn.Upsample` method).
        init: its initialisation (``"default"``, ``"bilinear"``, ``"icnr"``).
        kernel_size: up-sampling kernel; ``None``: 4 for ``transposed`` (FCN's 2s), the
            library default otherwise.
    """

    in_channels: int = 3
    num_classes: int = 4
    width: int = 16
    depth: int = 3
    method: str = "transposed"
    init: str = "default"
    kernel_size: int | None = None

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"SegConfig: method={self.method!r} must be one of "
                             f"{', '.join(map(repr, _METHODS))}")
        for name in ("in_channels", "num_classes", "width", "depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"SegConfig: {name}={getattr(self, name)} must be >= 1")

    @classmethod
    def from_variant(cls, variant: str, **kwargs: object) -> SegConfig:
        """Config for a :data:`VARIANTS` label, e.g. ``"transposed_bilinear"``."""
        if variant not in VARIANTS:
            raise ValueError(f"SegConfig.from_variant: variant={variant!r} must be one of "
                             f"{', '.join(map(repr, VARIANTS))}")
        method, init = VARIANTS[variant]
        return cls(method=method, init=init, **kwargs)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class FCN(nn.Module):
    """Image -> per-pixel class logits at the input size.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes, H, W)``, with ``H`` and ``W``
        divisible by ``2**depth``.
    """

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__()
        from tconv.nn import Upsample

        self.cfg = cfg
        ch = [cfg.width * 2 ** i for i in range(cfg.depth + 1)]
        self.stem = nn.Sequential(_conv_bn_relu(cfg.in_channels, ch[0]),
                                  _conv_bn_relu(ch[0], ch[0]))
        self.down = nn.ModuleList(
            nn.Sequential(_conv_bn_relu(ch[i], ch[i + 1], stride=2),
                          _conv_bn_relu(ch[i + 1], ch[i + 1]))
            for i in range(cfg.depth))
        k = cfg.kernel_size if cfg.kernel_size is not None else (
            4 if cfg.method == "transposed" else None)
        self.reduce = nn.ModuleList(nn.Conv2d(ch[i + 1], ch[i], 1)
                                    for i in reversed(range(cfg.depth)))
        self.up = nn.ModuleList(Upsample(ch[i], ch[i], 2, method=cfg.method, kernel_size=k,
                                         init=cfg.init)
                                for i in reversed(range(cfg.depth)))
        self.refine = nn.ModuleList(_conv_bn_relu(ch[i], ch[i])
                                    for i in reversed(range(cfg.depth)))
        self.head = nn.Conv2d(ch[0], cfg.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = 2 ** self.cfg.depth
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"FCN: input rows/columns {tuple(x.shape[-2:])} must be "
                             f"divisible by 2**depth={m}")
        feats = [self.stem(x)]
        for stage in self.down:
            feats.append(stage(feats[-1]))
        y = feats.pop()
        for reduce, up, refine in zip(self.reduce, self.up, self.refine, strict=True):
            y = refine(up(reduce(y)) + feats.pop())     # skip connection: add
        return self.head(y)
