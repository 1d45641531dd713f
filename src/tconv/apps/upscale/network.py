"""The up-scaler as a torch ``nn.Module`` (the ``torch`` extra), with its torch-only helpers.

The architecture, its config and every formula it uses (the body's layer list, the head's
padding, the flatness gate, the cubic skip's taps) live in :mod:`tconv.apps.upscale.model`
(NumPy only); this module builds torch layers from them and runs torch's own
differentiable ops in ``forward``.
"""

from __future__ import annotations

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as exc:                                   # pragma: no cover - extra absent
    raise ImportError('the up-scaler model needs PyTorch: pip install "tconv[torch]"') from exc

from .model import UpscalerConfig, _smoothstep, body_layers, cubic_phase_taps

__all__ = ["Upscaler", "flatness_gate_torch", "cubic_upsample_torch"]


def flatness_gate_torch(x: torch.Tensor, scale: int, low: float, high: float) -> torch.Tensor:
    """:func:`tconv.apps.upscale.model.flatness_gate` for ``(N, 1, H, W)`` torch tensors."""
    n, c, rows, cols = x.shape
    win = F.unfold(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3)      # (N, C*9, H*W)
    win = win.reshape(n, c, 9, rows * cols)
    d = (win - win[:, :, 4:5]) * 255.0           # about the centre: no float32 cancellation
    m = d.mean(dim=2)
    var = (d * d).mean(dim=2) - m * m
    std = var.clamp_min(1e-12).sqrt().reshape(n, c, rows, cols)
    g = _smoothstep(((std - low) / (high - low)).clamp(0.0, 1.0))
    return F.interpolate(g, scale_factor=scale, mode="bilinear", align_corners=False)


def cubic_upsample_torch(x: torch.Tensor, scale: int, a: float = -0.75) -> torch.Tensor:
    """Integer-factor cubic up-sampling of ``(N, C, H, W)`` in torch, for any ``a``.

    Equals ``tconv.interpolate(x, scale_factor=scale, mode="bicubic", cubic_a=a)`` (and
    torch's ``interpolate(mode="bicubic")`` for ``a = -0.75``): the taps are
    :func:`~tconv.apps.upscale.model.cubic_phase_taps`, read off the core's interpolation;
    edge replication by 2 is the core's index clamping. Separable: columns, then rows.
    """
    taps = cubic_phase_taps(scale, a)

    def axis(x: torch.Tensor, dim: int) -> torch.Tensor:
        n = x.shape[dim]
        xp = F.pad(x, (2, 2, 0, 0) if dim == -1 else (0, 0, 2, 2), mode="replicate")
        outs = []
        for offsets, weights in taps:
            acc = weights[0] * xp.narrow(dim, 2 + offsets[0], n)
            for o, w in zip(offsets[1:], weights[1:]):
                acc = acc + w * xp.narrow(dim, 2 + o, n)
            outs.append(acc)
        out = torch.stack(outs, dim=-1 if dim == -1 else -2)
        shape = list(x.shape)
        shape[dim] = n * scale
        return out.reshape(shape)

    return axis(axis(x, -1), -2)


class Upscaler(nn.Module):
    """FSRCNN body + head (+ bicubic skip, + flatness gate) for ``cfg``.

    Shape:
        ``(N, 1, H, W) -> (N, 1, s*H, s*W)``, luminance in [0, 1].
    """

    def __init__(self, cfg: UpscalerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        for cin, cout, k in body_layers(cfg):
            layers += [nn.Conv2d(cin, cout, k, padding=k // 2), nn.PReLU(cout)]
        self.body = nn.Sequential(*layers)
        s, k = cfg.scale, cfg.head_kernel
        self.head: nn.Module
        if cfg.head == "transposed":
            pad, opad = cfg.head_padding
            self.head = nn.ConvTranspose2d(cfg.d, 1, k, stride=s, padding=pad,
                                           output_padding=opad)
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
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
        for mod in self.head.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(mod.weight, 0.0, 1e-3)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def body_parameters(self) -> list[nn.Parameter]:
        return list(self.body.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.body(x))
        if self.cfg.gated:
            out = out * flatness_gate_torch(x, self.cfg.scale, self.cfg.gate_low,
                                            self.cfg.gate_high)
        if self.cfg.skip:
            if self.cfg.skip_a == -0.75:
                out = out + F.interpolate(x, scale_factor=self.cfg.scale, mode="bicubic",
                                          align_corners=False)
            else:
                out = out + cubic_upsample_torch(x, self.cfg.scale, self.cfg.skip_a)
        return out
