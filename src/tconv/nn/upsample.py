"""``Upsample``: one module for the up-sampling choices a decoder designer weighs.

Every method maps ``(N, C_in, *S)`` to ``(N, C_out, *(scale*S))`` exactly:

- ``"transposed"``: ConvTranspose with stride ``scale``; ``padding`` and
  ``output_padding`` solved by :func:`tconv.output_padding_for`. One-to-many; uneven
  kernel overlap gives checkerboards unless initialised flat (``"bilinear"``, ``"icnr"``).
- ``"resize_conv"``: nearest or (bi/tri)linear resize, then a stride-1 conv -- no
  checkerboard (Odena, Dumoulin & Olah 2016).
- ``"pixel_shuffle"``: conv to ``C_out * scale**d`` channels, then a pixel shuffle (ESPCN);
  checkerboard-free at initialisation with ``init="icnr"`` or ``init="bilinear"``.
- ``"nearest"``, ``"bilinear"``, ``"bicubic"``: fixed interpolation (bicubic 2-D only,
  PyTorch's ``a=-0.75``), with a 1x1 conv when ``C_in != C_out``.

The 1x1 conv of the fixed methods is applied *before* the resize: the resize weights of
each output sum to 1 and act per channel, so the two commute exactly and the conv runs on
``scale**d`` times fewer pixels. Initialisations (``init=``) come from :mod:`tconv.kernels`
through :mod:`tconv.nn.init`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..shapes import output_padding_for
from . import init as _init
from .shuffle import PixelShuffle

__all__ = ["INITS", "METHODS", "Upsample", "transposed_geometry"]

#: ``method=`` values of :class:`Upsample`.
METHODS = ("transposed", "resize_conv", "pixel_shuffle", "nearest", "bilinear", "bicubic")
#: ``init=`` values of :class:`Upsample`.
INITS = ("default", "bilinear", "icnr")

_INITS_FOR = {"transposed": ("default", "bilinear", "icnr"),
              "resize_conv": ("default",),
              "pixel_shuffle": ("default", "bilinear", "icnr"),
              "nearest": ("default",), "bilinear": ("default",), "bicubic": ("default",)}
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def _positive_int(fn: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{fn}: {name}={value!r} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{fn}: {name}={value} must be a positive integer")
    return int(value)


def transposed_geometry(scale: int, kernel_size: int) -> tuple[int, int]:
    """``(padding, output_padding)`` of a stride-``scale`` ConvTranspose with output ``scale*S``.

    ``S_out = (S - 1)*s - 2p + K + op = s*S`` needs ``2p - op = K - s``; the smallest
    non-negative solution is ``p = ceil((K - s) / 2)``, ``op = 2p - (K - s)`` (0 or 1), and
    ``op`` is checked by :func:`tconv.output_padding_for`.

    Args:
        scale: the stride ``s``.
        kernel_size: ``K``, at least ``s``.

    Returns:
        ``(padding, output_padding)``.

    Raises:
        ValueError: for ``K < s`` (no padding can make the output large enough) and for
            ``s = 1`` with an even ``K`` (``output_padding`` would have to be 1 >= stride).

    Examples:
        >>> transposed_geometry(2, 4), transposed_geometry(2, 9), transposed_geometry(3, 3)
        ((1, 0), (4, 1), (0, 0))
    """
    fn = "Upsample"
    if kernel_size < scale:
        raise ValueError(f"{fn}: kernel_size={kernel_size} must be >= scale={scale} for "
                         "method='transposed': a smaller kernel leaves holes and the output "
                         "cannot reach scale*input")
    if scale == 1 and kernel_size % 2 == 0:
        raise ValueError(f"{fn}: kernel_size={kernel_size} must be odd for scale=1 and "
                         "method='transposed' (an even kernel would need output_padding=1, "
                         "which must be < stride=1)")
    padding = -(-(kernel_size - scale) // 2)
    n = 4                                       # any input size gives the same answer
    (op,) = output_padding_for(n, scale * n, kernel_size, scale, padding)
    return padding, op


class Upsample(nn.Module):
    """Learnable or fixed up-sampling by an integer ``scale`` in 1, 2 or 3 spatial dims.

    One module, six methods (see the module docstring): transposed convolution (one-to-many,
    the checkerboard-prone classic), resize-convolution, sub-pixel convolution (ESPCN) and
    three fixed interpolations. The output is always exactly ``scale`` times the input.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        scale: integer up-sampling factor ``s >= 1``.
        method: one of :data:`METHODS`.
        kernel_size: conv kernel size. Defaults: ``2*s`` for ``"transposed"`` (a
            multiple of ``s``, so every output receives the same number of taps: even
            overlap; 1 at ``s = 1``), except ``2*s - s % 2`` with ``init="bilinear"``
            (FCN's exact bilinear filter, whose weights sum to 1 at every phase); 3 for
            ``"resize_conv"`` and ``"pixel_shuffle"`` (must be odd there: "same" padding),
            1 (the channel-mixing conv) for the fixed methods.
        init: ``"default"`` (PyTorch's), ``"bilinear"`` (starts as bilinear interpolation,
            ``C_in == C_out``: FCN's kernel for ``"transposed"``,
            :func:`tconv.kernels.interpolation_phases` for ``"pixel_shuffle"``) or
            ``"icnr"`` (``"pixel_shuffle"`` and ``"transposed"``: conv then nearest, no
            checkerboard at initialisation).
        ndim: number of spatial dims, 1-3.
        bias: whether the conv has a bias (zeroed by ``init="bilinear"``).
        resize_mode: ``"nearest"`` or ``"bilinear"`` (linear in 1-D, trilinear in 3-D), the
            resize of ``"resize_conv"``.
        rng: NumPy generator or seed for ``init="icnr"``; ``None`` seeds from torch's RNG.
        device: factory argument of the convs, as ``torch.nn`` layers.
        dtype: factory argument of the convs. Give ``dtype=torch.float64`` here rather
            than calling ``.double()`` afterwards when the initial weights must be exact in
            float64 (``init="bilinear"`` at scale 3 has taps 1/3, 2/3).
        size: ``torch.nn.Upsample``'s keyword. Given any of ``size``, ``scale_factor``,
            ``mode``, ``align_corners``, ``recompute_scale_factor`` (and no channels), the
            module *is* ``torch.nn.Upsample`` with those arguments -- a fixed resize with
            its output size rules -- so ``from tconv.nn import Upsample`` can replace
            ``from torch.nn import Upsample`` in code that calls it with keywords.
        scale_factor: ``torch.nn.Upsample``'s keyword (see ``size``).
        mode: ``torch.nn.Upsample``'s keyword (see ``size``); default ``"nearest"``.
        align_corners: ``torch.nn.Upsample``'s keyword (see ``size``).
        recompute_scale_factor: ``torch.nn.Upsample``'s keyword (see ``size``).

    Shape:
        ``(N, C_in, *S) -> (N, C_out, *(s*S))``.

    Convention:
        ``align_corners=False`` everywhere, as PyTorch's default. ``"transposed"`` holds
        ``nn.ConvTranspose{d}d(C_in, C_out, K, stride=s, padding=ceil((K-s)/2),
        output_padding=2*padding - (K - s))``.

    Raises:
        ValueError: for an unknown method/init/resize_mode, an init the method does not
            support, ``scale < 1``, bicubic outside 2-D, an even kernel where "same"
            padding is needed, or a kernel the geometry cannot use.
        TypeError: for a non-integer scale, channel count or kernel size.

    Examples:
        >>> torch.manual_seed(0) and None
        >>> up = Upsample(8, 4, 2, method="pixel_shuffle", init="icnr", rng=0)
        >>> up(torch.zeros(1, 8, 5, 7)).shape
        torch.Size([1, 4, 10, 14])
        >>> Upsample(3, 3, 3, method="transposed", init="bilinear").body.conv
        ConvTranspose2d(3, 3, kernel_size=(5, 5), stride=(3, 3), padding=(1, 1))
        >>> Upsample(3, 3, 3).body.conv.kernel_size      # default: even overlap, K = 2s
        (6, 6)
        >>> up = Upsample(scale_factor=2, mode="bilinear")      # torch.nn.Upsample's call
        >>> up(torch.ones(1, 1, 2, 3)).shape
        torch.Size([1, 1, 4, 6])
    """

    __jit_unused_properties__ = ["conv"]

    def __init__(self, in_channels: int | None = None, out_channels: int | None = None,
                 scale: int | None = None, method: str = "transposed",
                 kernel_size: int | None = None, init: str = "default", ndim: int = 2, *,
                 bias: bool = True, resize_mode: str = "nearest",
                 rng: np.random.Generator | int | None = None,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None,
                 size: int | tuple[int, ...] | None = None,
                 scale_factor: float | tuple[float, ...] | None = None,
                 mode: str | None = None, align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        fn = "Upsample"
        torch_style = {"size": size, "scale_factor": scale_factor, "mode": mode,
                       "align_corners": align_corners,
                       "recompute_scale_factor": recompute_scale_factor}
        if any(v is not None for v in torch_style.values()):
            self._init_torch_style(fn, in_channels, out_channels, scale, torch_style)
            return
        if in_channels is None or out_channels is None or scale is None:
            raise TypeError(f"{fn}: give in_channels, out_channels and scale (tconv's "
                            "learnable up-sampling), or torch.nn.Upsample's keywords size= / "
                            "scale_factor= with mode= (a fixed resize, as torch)")
        c_in = _positive_int(fn, "in_channels", in_channels)
        c_out = _positive_int(fn, "out_channels", out_channels)
        s = _positive_int(fn, "scale", scale)
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"{fn}: method={method!r} must be one of {METHODS}")
        if not isinstance(init, str) or init not in INITS:
            raise ValueError(f"{fn}: init={init!r} must be one of {INITS}")
        if init not in _INITS_FOR[method]:
            raise ValueError(f"{fn}: init={init!r} is not available for method={method!r}; "
                             f"choose one of {_INITS_FOR[method]}")
        if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
            raise ValueError(f"{fn}: ndim={ndim!r} must be 1, 2 or 3")
        if method == "bicubic" and ndim != 2:
            raise ValueError(f"{fn}: method='bicubic' needs ndim=2 (PyTorch has no bicubic "
                             f"in {ndim}-D); got ndim={ndim}")
        if resize_mode not in ("nearest", "bilinear"):
            raise ValueError(f"{fn}: resize_mode={resize_mode!r} must be 'nearest' or "
                             "'bilinear'")
        if init == "bilinear" and c_in != c_out:
            raise ValueError(f"{fn}: init='bilinear' needs in_channels == out_channels (one "
                             f"bilinear filter per channel, FCN); got {c_in} and {c_out}")
        self.in_channels: int | None = c_in
        self.out_channels: int | None = c_out
        self.scale: Any = s
        self.method, self.init = method, init
        self.ndim: int | None = ndim
        layers: OrderedDict[str, nn.Module] = OrderedDict()

        if method == "transposed":
            if kernel_size is None:
                # an even-overlap kernel (a multiple of s: every output gets the same number
                # of taps); FCN's exact bilinear filter needs 2s - 1 taps at odd s
                k = 2 * s - s % 2 if init == "bilinear" else (2 * s if s > 1 else 1)
            else:
                k = _positive_int(fn, "kernel_size", kernel_size)
            padding, op = transposed_geometry(s, k)
            conv: Any = _CONV_T[ndim](c_in, c_out, k, stride=s, padding=padding,
                                 output_padding=op, bias=bias, device=device, dtype=dtype)
            if init == "bilinear":
                _init.bilinear_(conv.weight)
            elif init == "icnr":
                _init.icnr_transpose_(conv.weight, s, rng=rng)
            layers["conv"] = conv
        elif method in ("resize_conv", "pixel_shuffle"):
            k = 3 if kernel_size is None else _positive_int(fn, "kernel_size", kernel_size)
            if k % 2 == 0:
                raise ValueError(f"{fn}: kernel_size={k} must be odd for method={method!r} "
                                 "(symmetric 'same' padding keeps the size exact)")
            if method == "resize_conv":
                mode = "nearest" if resize_mode == "nearest" else _LINEAR[ndim]
                layers["resize"] = _resize(s, mode)
                layers["conv"] = _CONV[ndim](c_in, c_out, k, padding=k // 2, bias=bias,
                                             device=device, dtype=dtype)
            else:
                conv = _CONV[ndim](c_in, c_out * s**ndim, k, padding=k // 2, bias=bias,
                                   device=device, dtype=dtype)
                if init == "bilinear":
                    _init.interpolation_subpixel_(conv.weight, s, "bilinear")
                elif init == "icnr":
                    _init.icnr_(conv.weight, s, rng=rng)
                    if conv.bias is not None:   # one bias per output channel, all phases
                        with torch.no_grad():
                            first = conv.bias.view(c_out, -1)[:, :1].clone()
                            conv.bias.copy_(first.expand(c_out, s**ndim).reshape(-1))
                layers["conv"] = conv
                layers["shuffle"] = PixelShuffle(s, ndim)
        else:
            k = 1 if kernel_size is None else _positive_int(fn, "kernel_size", kernel_size)
            if k != 1:
                raise ValueError(f"{fn}: kernel_size={k} must be 1 (or None) for the fixed "
                                 f"method={method!r}; its only conv mixes channels")
            if c_in != c_out:
                layers["conv"] = _CONV[ndim](c_in, c_out, 1, bias=bias, device=device, dtype=dtype)
            fixed = {"nearest": "nearest", "bilinear": _LINEAR[ndim], "bicubic": "bicubic"}
            layers["resize"] = _resize(s, fixed[method])
        if init == "bilinear":
            b = getattr(layers["conv"], "bias", None)
            if b is not None:
                nn.init.zeros_(b)
        self.kernel_size: int | None = k
        self.body = nn.Sequential(layers)

    def _init_torch_style(self, fn: str, in_channels: object, out_channels: object,
                          scale: object, options: dict[str, Any]) -> None:
        """``torch.nn.Upsample(size, scale_factor, mode, align_corners,
        recompute_scale_factor)``: the same fixed resize, run by torch's own module."""
        if any(v is not None for v in (in_channels, out_channels, scale)):
            raise TypeError(f"{fn}: in_channels/out_channels/scale=({in_channels!r}, "
                            f"{out_channels!r}, {scale!r}) cannot be combined with "
                            "torch.nn.Upsample's keywords size/scale_factor/mode/"
                            "align_corners/recompute_scale_factor")
        if options["mode"] is None:
            options["mode"] = "nearest"
        resize = nn.Upsample(**options)
        self.in_channels = self.out_channels = None
        self.scale = options["scale_factor"]
        self.method, self.init, self.kernel_size = "torch", "default", None
        self.size, self.scale_factor = resize.size, resize.scale_factor
        self.mode, self.align_corners = resize.mode, resize.align_corners
        self.recompute_scale_factor = resize.recompute_scale_factor
        self.ndim = None
        self.body = nn.Sequential(OrderedDict(resize=resize))

    @property
    def conv(self) -> nn.Module | None:
        """The learnable (transposed) convolution, or None for a channel-preserving resize."""
        return getattr(self.body, "conv", None)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)

    def extra_repr(self) -> str:
        if self.method == "torch":
            resize: Any = self.body.resize
            return str(resize.extra_repr())
        return (f"{self.in_channels}, {self.out_channels}, scale={self.scale}, "
                f"method={self.method!r}, kernel_size={self.kernel_size}, "
                f"init={self.init!r}, ndim={self.ndim}")


def _resize(scale: int, mode: str) -> nn.Upsample:
    align = None if mode == "nearest" else False
    return nn.Upsample(scale_factor=float(scale), mode=mode, align_corners=align)
