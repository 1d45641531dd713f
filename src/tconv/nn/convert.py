"""Exact conversions of a ``ConvTranspose{1,2,3}d`` into layers every runtime runs fast.

Two identities of the NumPy core (:mod:`tconv.kernels`), packaged as modules:

    conv_transpose(x, w) == crop(pixel_shuffle(conv(pad(x), W_phase)))     to_pixel_shuffle
    conv_transpose(x, w) == conv(pad(insert_zeros(x)), flip(swap(w)))      to_zero_insertion

``to_pixel_shuffle`` stacks the ``s**d`` output phases of the transposed convolution as
output channels of one stride-1 conv (each phase is a correlation of the input with a
sub-kernel of ``w``), so nothing multiplies an inserted zero; ``to_zero_insertion`` is the
textbook form, useful where only a plain convolution is available. The weights are
rearranged copies of the original (no arithmetic), so float32 layers convert exactly;
the converted modules use only conv / pad / reshape / permute / slice and export to ONNX.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import kernels
from .shuffle import PixelShuffle

__all__ = ["PadCrop", "ZeroInsertion", "to_pixel_shuffle", "to_zero_insertion"]

_CONV: dict[int, Any] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


class PadCrop(nn.Module):
    """Zero-pad (positive amounts) or crop (negative amounts) the trailing spatial dims.

    Args:
        pad: one ``(low, high)`` pair per spatial dim, first spatial dim first.

    Shape:
        ``(*, *S) -> (*, *(S + low + high))``.

    Examples:
        >>> PadCrop([(1, -2)])(torch.arange(5.0).view(1, 1, 5))
        tensor([[[0., 0., 1., 2.]]])
    """

    def __init__(self, pad: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        self.pad = [(int(lo), int(hi)) for lo, hi in pad]
        widths: list[int] = []
        for lo, hi in reversed(self.pad):          # F.pad lists the last dim first
            widths += [max(lo, 0), max(hi, 0)]
        self.widths = widths
        self.crop_lo = [max(-lo, 0) for lo, _ in self.pad]
        self.crop_hi = [max(-hi, 0) for _, hi in self.pad]
        self.any_pad = any(w > 0 for w in widths)
        self.any_crop = any(c > 0 for c in self.crop_lo + self.crop_hi)

    def forward(self, x: Tensor) -> Tensor:
        if self.any_pad:
            x = F.pad(x, self.widths)
        if self.any_crop:
            nd = len(self.crop_lo)
            for i in range(nd):
                lo, hi = self.crop_lo[i], self.crop_hi[i]
                if lo > 0 or hi > 0:
                    dim = x.dim() - nd + i
                    x = x.narrow(dim, lo, x.size(dim) - lo - hi)
        return x

    def extra_repr(self) -> str:
        return f"pad={self.pad}"


class ZeroInsertion(nn.Module):
    """Insert ``stride - 1`` zeros between neighbouring samples of each trailing spatial dim.

    Per dim: ``(.., n, ..) -> stack with s-1 zeros -> (.., n, s, ..) -> (.., n*s, ..)``, then
    drop the trailing ``s - 1`` zeros. Only cat / reshape / narrow: scriptable, exportable.

    Args:
        stride: one int per spatial dim.

    Shape:
        ``(*, *S) -> (*, *((S - 1)*stride + 1))``.

    Examples:
        >>> ZeroInsertion([2])(torch.tensor([[[1.0, 2.0, 3.0]]]))
        tensor([[[1., 0., 2., 0., 3.]]])
    """

    def __init__(self, stride: Sequence[int]) -> None:
        super().__init__()
        self.stride = [int(s) for s in stride]

    def forward(self, x: Tensor) -> Tensor:
        nd = len(self.stride)
        for i in range(nd):
            s = self.stride[i]
            if s > 1:
                dim = x.dim() - nd + i
                n = x.size(dim)
                xu = x.unsqueeze(dim + 1)
                zshape = list(xu.shape)
                zshape[dim + 1] = s - 1
                z = torch.zeros(zshape, dtype=x.dtype, device=x.device)
                shape = list(x.shape)
                shape[dim] = n * s
                x = torch.cat([xu, z], dim + 1).reshape(shape).narrow(dim, 0, (n - 1) * s + 1)
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


def _layer(fn: str, layer: Any) -> Any:
    from .upsample import Upsample

    if isinstance(layer, Upsample):
        if layer.method != "transposed":
            raise TypeError(f"{fn}: Upsample with method={layer.method!r} has no transposed "
                            "convolution to convert; only method='transposed' does")
        layer = layer.body.conv
    if not isinstance(layer, nn.modules.conv._ConvTransposeNd):
        raise TypeError(f"{fn}: layer must be an nn.ConvTranspose1d/2d/3d (or a transposed "
                        f"Upsample), not {type(layer).__name__}")
    if layer.padding_mode != "zeros":
        raise ValueError(f"{fn}: padding_mode={layer.padding_mode!r} must be 'zeros' "
                         "(PyTorch's only mode for transposed convolutions)")
    return layer


def _numpy(t: Tensor | None) -> Any:
    return None if t is None else t.detach().to("cpu", torch.float64).numpy()


def _conv(nd: int, weight: Any, bias: Any, groups: int, padding: list[int], dilation: Any,
          like: Tensor) -> Any:
    c_out, cig, *k = weight.shape
    conv = _CONV[nd](cig * groups, c_out, tuple(k), padding=tuple(padding),
                     dilation=tuple(dilation), groups=groups, bias=bias is not None)
    conv = conv.to(device=like.device, dtype=like.dtype)
    with torch.no_grad():
        # the NumPy core may hand back a flipped view (negative strides; even a one-element
        # one counts as contiguous to NumPy, not to torch.from_numpy): copy it first
        conv.weight.copy_(torch.from_numpy(np.array(weight, order="C", copy=True)))
        if bias is not None:
            conv.bias.copy_(torch.from_numpy(np.array(bias, order="C", copy=True)))
    return conv


def _fold(pad: tuple[tuple[int, int], ...]) -> tuple[list[int], tuple[tuple[int, int], ...]]:
    """Move a symmetric non-negative part of the padding into the conv's own padding."""
    inner = [max(0, min(lo, hi)) for lo, hi in pad]
    rest = tuple((lo - c, hi - c) for (lo, hi), c in zip(pad, inner, strict=True))
    return inner, rest


def to_pixel_shuffle(layer: nn.Module) -> nn.Sequential:
    """Convert a transposed convolution into pad -> conv -> pixel shuffle -> crop, exactly.

    Sub-pixel convolution: each of the ``stride**d`` output phases of the transposed conv
    is a stride-1 correlation of the (un-dilated) input with a sub-kernel of its weight, so
    one conv computes all phases as channels and :class:`~tconv.nn.PixelShuffle`
    interleaves them. Works for any kernel, stride, padding, output padding, dilation and
    groups of ``ConvTranspose{1,2,3}d`` (see :func:`tconv.kernels.subpixel_form`).

    Args:
        layer: an ``nn.ConvTranspose{1,2,3}d`` or an :class:`Upsample` with
            ``method="transposed"``.

    Returns:
        ``nn.Sequential`` with children ``pad`` (only if needed), ``conv``, ``shuffle`` and
        ``crop`` (only if needed), on the layer's device and dtype.

    Shape:
        Same as the layer: ``(N, C_in, *S) -> (N, C_out, *S_out)``; the conv has
        ``C_out * prod(stride)`` output channels and kernel ``Kc`` (FSRCNN's 9x9, stride 2
        becomes a 5x5 conv to 4 channels).

    Convention:
        The layer's ``forward(x, output_size=...)`` choice is not kept: the conversion
        reproduces its fixed ``output_padding``.

    Raises:
        TypeError: for anything but a transposed convolution.
        ValueError: for ``padding_mode`` other than ``"zeros"``.

    Examples:
        >>> layer = nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1)
        >>> sub = to_pixel_shuffle(layer)
        >>> sub.conv                          # DCGAN's 4x4 / 2 becomes a 2x2 conv to 4*C_out
        Conv2d(2, 12, kernel_size=(2, 2), stride=(1, 1), padding=(1, 1))
        >>> x = torch.randn(1, 2, 5, 6)
        >>> bool(torch.allclose(sub(x), layer(x), atol=1e-6))
        True
    """
    fn = "to_pixel_shuffle"
    ct = _layer(fn, layer)
    nd = len(ct.kernel_size)
    form = kernels.subpixel_form(_numpy(ct.weight), _numpy(ct.bias), ct.stride,
                                 ct.padding, ct.output_padding, ct.groups,
                                 ct.dilation)
    inner, rest = _fold(form.pad)
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    if any(lo or hi for lo, hi in rest):
        parts["pad"] = PadCrop(rest)
    parts["conv"] = _conv(nd, form.weight, form.bias, form.groups, inner, (1,) * nd,
                          ct.weight)
    parts["shuffle"] = PixelShuffle(list(form.scale), nd)
    if any(lo or hi for lo, hi in form.crop):
        parts["crop"] = PadCrop([(-lo, -hi) for lo, hi in form.crop])
    return nn.Sequential(parts)


def to_zero_insertion(layer: nn.Module) -> nn.Sequential:
    """Convert a transposed convolution into zero insertion -> pad -> conv, exactly.

    The textbook equivalence: insert ``stride - 1`` zeros between inputs, pad by
    ``dilation*(K-1) - padding`` (plus ``output_padding`` on the high side), and correlate
    with the kernel flipped and its channel axes swapped (see
    :func:`tconv.kernels.zero_insertion_form`). It multiplies the inserted zeros -- about
    ``stride**d`` times the work of :func:`to_pixel_shuffle` -- but needs nothing but a
    stride-1 convolution.

    Args:
        layer: an ``nn.ConvTranspose{1,2,3}d`` or an :class:`Upsample` with
            ``method="transposed"``.

    Returns:
        ``nn.Sequential`` with children ``zeros``, ``pad`` (only if needed) and ``conv``.

    Shape:
        Same as the layer.

    Convention:
        Like PyTorch's autograd for conv (``grad_input`` of conv is this layer); an ``inf``
        input gives NaN here where ConvTranspose gives a finite value (``0 * inf``).

    Raises:
        TypeError: for anything but a transposed convolution.
        ValueError: for ``padding_mode`` other than ``"zeros"``.

    Examples:
        >>> layer = nn.ConvTranspose1d(1, 1, 3, stride=2, padding=1, output_padding=1)
        >>> to_zero_insertion(layer)
        Sequential(
          (zeros): ZeroInsertion(stride=[2])
          (pad): PadCrop(pad=[(0, 1)])
          (conv): Conv1d(1, 1, kernel_size=(3,), stride=(1,), padding=(1,))
        )
    """
    fn = "to_zero_insertion"
    ct = _layer(fn, layer)
    nd = len(ct.kernel_size)
    form = kernels.zero_insertion_form(_numpy(ct.weight), _numpy(ct.bias), ct.stride,
                                       ct.padding, ct.output_padding, ct.groups,
                                       ct.dilation)
    inner, rest = _fold(form.pad)
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    parts["zeros"] = ZeroInsertion(form.stride)
    if any(lo or hi for lo, hi in rest):
        parts["pad"] = PadCrop(rest)
    parts["conv"] = _conv(nd, form.weight, form.bias, form.groups, inner, form.dilation,
                          ct.weight)
    return nn.Sequential(parts)
