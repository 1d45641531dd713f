"""FSRCNN-style up-scaler (Dong, Loy, Tang, ECCV 2016) with a choice of up-sampling head.

Body on the low-resolution luminance (d=56, s=12, m=4, PReLU after every conv)::

    conv5x5 1->d  |  conv1x1 d->s  |  m x conv3x3 s->s  |  conv1x1 s->d      (all "same")

Heads (``UpscalerConfig.head``), each mapping ``(N, d, H, W) -> (N, 1, s*H, s*W)``:

* ``"transposed"``: ``ConvTranspose2d(d, 1, 9, stride=s, padding=4, output_padding=s-1)``
  (FSRCNN's deconvolution; output size ``(H-1)*s - 8 + 9 + s-1 = s*H``).
* ``"pixel_shuffle"``: ``Conv2d(d, s*s, k, padding=k//2)`` + ``PixelShuffle(s)`` (ESPCN-style),
  ``k = 5`` at x2 and 3 at x3/x4 (same LR footprint as the 9x9 stride-s deconvolution).
* ``"resize_conv"``: nearest up-sampling by ``s`` then ``Conv2d(d, 1, 2s+1, padding=s)``.

With ``skip=True`` (the default, shipped) the head learns the residual over bicubic:
``out = head(body(x)) + interpolate(x, scale_factor=s, mode="bicubic")`` (torch's cubic,
a = -0.75, ``align_corners=False``, edge-clamped). Measured in the research note, the skip
trains faster and ends free of stride-periodic (checkerboard) artifacts.

Convention: input and output are luminance in [0, 1] (gray levels / 255), ``(N, 1, H, W)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["UpscalerConfig", "Upscaler", "HEADS", "body_layers"]

HEADS = ("transposed", "pixel_shuffle", "resize_conv")


@dataclass
class UpscalerConfig:
    """Architecture of the up-scaler (everything needed to rebuild it from weights)."""

    scale: int = 2
    head: str = "transposed"
    d: int = 56
    s: int = 12
    m: int = 4
    skip: bool = True

    def __post_init__(self) -> None:
        if self.scale not in (2, 3, 4):
            raise ValueError(f"UpscalerConfig: scale={self.scale!r} must be 2, 3 or 4")
        if self.head not in HEADS:
            raise ValueError(f"UpscalerConfig: head={self.head!r} must be one of {HEADS}")
        for name in ("d", "s", "m"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < (0 if name == "m" else 1):
                raise ValueError(f"UpscalerConfig: {name}={v!r} must be a positive int")

    @property
    def head_kernel(self) -> int:
        if self.head == "transposed":
            return 9
        if self.head == "pixel_shuffle":
            return 5 if self.scale == 2 else 3
        return 2 * self.scale + 1

    def to_dict(self) -> dict:
        return asdict(self)


def body_layers(cfg: UpscalerConfig) -> list[tuple[int, int, int]]:
    """``(C_in, C_out, kernel)`` of each body conv, in order (each followed by PReLU)."""
    return ([(1, cfg.d, 5), (cfg.d, cfg.s, 1)] + [(cfg.s, cfg.s, 3)] * cfg.m
            + [(cfg.s, cfg.d, 1)])


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError('the up-scaler model needs PyTorch: pip install "tconv[torch]"') \
            from exc
    return torch


def Upscaler(cfg: UpscalerConfig):  # noqa: N802 - a factory that returns an nn.Module
    """Build the torch module for ``cfg`` (imports torch on call)."""
    return _build_class()(cfg)


_CLASS = None


def _build_class():
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class _Upscaler(nn.Module):
        """FSRCNN body + head (+ bicubic skip). Shape: (N, 1, H, W) -> (N, 1, sH, sW)."""

        def __init__(self, cfg: UpscalerConfig) -> None:
            super().__init__()
            self.cfg = cfg
            layers: list = []
            for cin, cout, k in body_layers(cfg):
                layers += [nn.Conv2d(cin, cout, k, padding=k // 2), nn.PReLU(cout)]
            self.body = nn.Sequential(*layers)
            s, k = cfg.scale, cfg.head_kernel
            if cfg.head == "transposed":
                self.head = nn.ConvTranspose2d(cfg.d, 1, k, stride=s, padding=k // 2,
                                               output_padding=s - 1)
            elif cfg.head == "pixel_shuffle":
                self.head = nn.Sequential(nn.Conv2d(cfg.d, s * s, k, padding=k // 2),
                                          nn.PixelShuffle(s))
            else:
                self.head = nn.Sequential(nn.Upsample(scale_factor=s, mode="nearest"),
                                          nn.Conv2d(cfg.d, 1, k, padding=k // 2))
            self.reset_parameters()

        def reset_parameters(self) -> None:
            for mod in self.body:
                if isinstance(mod, nn.Conv2d):
                    nn.init.kaiming_normal_(mod.weight, a=0.25, nonlinearity="leaky_relu")
                    nn.init.zeros_(mod.bias)
            for mod in self.head.modules():
                if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(mod.weight, 0.0, 1e-3)
                    nn.init.zeros_(mod.bias)

        def head_parameters(self):
            return list(self.head.parameters())

        def body_parameters(self):
            return list(self.body.parameters())

        def forward(self, x):
            out = self.head(self.body(x))
            if self.cfg.skip:
                out = out + F.interpolate(x, scale_factor=self.cfg.scale, mode="bicubic",
                                          align_corners=False)
            return out

    _CLASS = _Upscaler
    return _CLASS
