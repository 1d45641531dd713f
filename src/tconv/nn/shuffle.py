"""Pixel shuffle and unshuffle in 1, 2 and 3 spatial dims (PyTorch ships only 2-D).

The picture, per spatial dim, with factor ``r``::

    (N, C*r**d, S_1, .., S_d) -> view (N, C, r_1, .., r_d, S_1, .., S_d)
                              -> permute (N, C, S_1, r_1, .., S_d, r_d)
                              -> view (N, C, S_1*r_1, .., S_d*r_d)

so channel ``c*r**d + phase`` becomes sub-pixel ``phase`` (row-major over ``r_1 .. r_d``)
of every ``r**d`` block of channel ``c``. Unshuffle is the inverse permutation. Only
``reshape``/``permute`` are used: the ops script, trace and export to ONNX as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["PixelShuffle", "PixelUnshuffle", "depth_to_space", "pixel_shuffle",
           "pixel_unshuffle", "space_to_depth"]


def _factors(fn: str, factor: int | Sequence[int], ndim: int) -> list[int]:
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
        raise ValueError(f"{fn}: ndim={ndim!r} must be 1, 2 or 3")
    if isinstance(factor, Sequence) and not isinstance(factor, str):
        values = list(factor)
        if len(values) != ndim:
            raise ValueError(f"{fn}: factor={tuple(values)} must have ndim={ndim} entries")
    else:
        values = [factor] * ndim
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{fn}: factor={factor!r} must be an int or a tuple of ints")
    if any(v < 1 for v in values):
        raise ValueError(f"{fn}: factor={factor!r} must be positive")
    return [int(v) for v in values]


def _shuffle(x: Tensor, r: list[int]) -> Tensor:
    nd = len(r)
    lead = x.dim() - nd - 1                        # batch dims in front of C*prod(r)
    if lead < 0:
        raise ValueError("pixel_shuffle: input of rank " + str(x.dim()) + " must have at "
                         "least " + str(nd + 1) + " dims (C*r**d, *S) for ndim=" + str(nd))
    phases = 1
    for f in r:
        phases *= f
    shape = x.shape
    channels = shape[lead]
    if not torch.jit.is_tracing() and channels % phases != 0:
        raise ValueError("pixel_shuffle: input channels " + str(channels) + " must be "
                         "divisible by prod(upscale_factor)=" + str(phases))
    batch = list(shape[:lead])
    size = list(shape[lead + 1:])
    x = x.reshape(batch + [channels // phases] + r + size)
    perm = list(range(lead + 1))
    for i in range(nd):
        perm += [lead + 1 + nd + i, lead + 1 + i]
    out = [size[i] * r[i] for i in range(nd)]
    return x.permute(perm).reshape(batch + [channels // phases] + out)


def _unshuffle(x: Tensor, r: list[int]) -> Tensor:
    nd = len(r)
    lead = x.dim() - nd - 1
    if lead < 0:
        raise ValueError("pixel_unshuffle: input of rank " + str(x.dim()) + " must have at "
                         "least " + str(nd + 1) + " dims (C, *S) for ndim=" + str(nd))
    shape = x.shape
    size = list(shape[lead + 1:])
    for i in range(nd):
        if not torch.jit.is_tracing() and size[i] % r[i] != 0:
            raise ValueError("pixel_unshuffle: spatial size " + str(size) + " must be "
                             "divisible by downscale_factor=" + str(r) + " in every dim")
    batch = list(shape[:lead])
    channels = shape[lead]
    split: list[int] = []
    for i in range(nd):
        split += [size[i] // r[i], r[i]]
    x = x.reshape(batch + [channels] + split)
    perm = list(range(lead + 1))
    perm += [lead + 2 + 2 * i for i in range(nd)]
    perm += [lead + 1 + 2 * i for i in range(nd)]
    phases = 1
    for f in r:
        phases *= f
    return x.permute(perm).reshape(batch + [channels * phases]
                                   + [size[i] // r[i] for i in range(nd)])


def pixel_shuffle(x: Tensor, upscale_factor: int | Sequence[int], ndim: int = 2) -> Tensor:
    """Rearrange ``(*, C*r**d, *S)`` into ``(*, C, *(S*r))`` for ``d = ndim`` spatial dims.

    The sub-pixel layout: ``r**d`` channels computed at low resolution become one
    ``r x .. x r`` block of a single channel at high resolution (ESPCN, Shi et al. 2016).

    Args:
        x: input whose last ``ndim`` dims are spatial, preceded by ``C*prod(r)`` channels
            and any number of batch dims.
        upscale_factor: ``r``, an int or one int per spatial dim.
        ndim: number of spatial dims, 1-3 (2 as ``torch.nn.functional.pixel_shuffle``).

    Returns:
        The shuffled tensor, same dtype and device.

    Shape:
        ``(*, C*prod(r), S_1, .., S_d) -> (*, C, S_1*r_1, .., S_d*r_d)``.

    Convention:
        Equals ``torch.nn.functional.pixel_shuffle`` for ``ndim=2``; phase ``(i, j)`` of
        channel ``c`` is input channel ``c*r*r + i*r + j`` (phases row-major).

    Raises:
        ValueError: for channels not divisible by ``prod(r)``, too few dims, or a bad factor.
        TypeError: for a non-integer factor.

    Examples:
        >>> x = torch.arange(8).reshape(1, 4, 2)          # 1-D: C*r = 4, r = 2
        >>> pixel_shuffle(x, 2, ndim=1)
        tensor([[[0, 2, 1, 3],
                 [4, 6, 5, 7]]])
    """
    return _shuffle(x, _factors("pixel_shuffle", upscale_factor, ndim))


def pixel_unshuffle(x: Tensor, downscale_factor: int | Sequence[int], ndim: int = 2) -> Tensor:
    """Rearrange ``(*, C, *(S*r))`` into ``(*, C*r**d, *S)``: the inverse of :func:`pixel_shuffle`.

    Args:
        x: input whose last ``ndim`` dims are spatial, each divisible by ``r``.
        downscale_factor: ``r``, an int or one int per spatial dim.
        ndim: number of spatial dims, 1-3.

    Returns:
        The unshuffled tensor.

    Shape:
        ``(*, C, S_1*r_1, .., S_d*r_d) -> (*, C*prod(r), S_1, .., S_d)``.

    Convention:
        Equals ``torch.nn.functional.pixel_unshuffle`` for ``ndim=2``.

    Raises:
        ValueError: for spatial sizes not divisible by ``r``, too few dims, or a bad factor.

    Examples:
        >>> pixel_unshuffle(torch.tensor([[[0, 2, 1, 3]]]), 2, ndim=1)
        tensor([[[0, 1],
                 [2, 3]]])
    """
    return _unshuffle(x, _factors("pixel_unshuffle", downscale_factor, ndim))


def _swap_channel_order(x: Tensor, first: int, second: int, nd: int) -> Tensor:
    """Channels ``(first, second)`` -> ``(second, first)``: DCR <-> CRD (one transpose)."""
    lead = x.dim() - nd - 1
    shape = list(x.shape)
    x = x.reshape(shape[:lead] + [first, second] + shape[lead + 1:])
    return x.transpose(lead, lead + 1).reshape(shape)


def _check_mode(fn: str, mode: str) -> str:
    if not isinstance(mode, str) or mode.upper() not in ("DCR", "CRD"):
        raise ValueError(f"{fn}: mode={mode!r} must be 'DCR' or 'CRD'")
    return mode.upper()


def depth_to_space(x: Tensor, block_size: int | Sequence[int], mode: str = "DCR",
                   ndim: int = 2) -> Tensor:
    """Torch twin of :func:`tconv.shuffle.depth_to_space`: ONNX ``DepthToSpace`` order.

    ``mode="CRD"`` is :func:`pixel_shuffle`; ``mode="DCR"`` (ONNX's default, TensorFlow's
    order) first regroups channel ``p * C + c`` as ``c * prod(r) + p`` (one transpose).
    Exports to ONNX as reshape/transpose.

    Args:
        x: ``(*, C*prod(r), *S)``.
        block_size: ``r``, an int or one int per spatial dim.
        mode: ``"DCR"`` or ``"CRD"``.
        ndim: number of spatial dims, 1-3.

    Returns:
        ``(*, C, *(S*r))``.

    Shape:
        ``(*, C*prod(r), S_1, .., S_d) -> (*, C, S_1*r_1, .., S_d*r_d)``.

    Raises:
        ValueError: as :func:`pixel_shuffle`, or an unknown mode.

    Examples:
        >>> depth_to_space(torch.arange(8).reshape(1, 4, 1, 2), 2)[0, 0]
        tensor([[0, 2, 1, 3],
                [4, 6, 5, 7]])
    """
    mode = _check_mode("depth_to_space", mode)
    r = _factors("depth_to_space", block_size, ndim)
    if mode == "DCR":
        phases = 1
        for f in r:
            phases *= f
        channels = x.shape[x.dim() - ndim - 1] if x.dim() > ndim else 0
        if channels % phases:
            raise ValueError(f"depth_to_space: input channels {channels} must be divisible "
                             f"by prod(block_size)={phases}")
        x = _swap_channel_order(x, phases, channels // phases, ndim)
    return _shuffle(x, r)


def space_to_depth(x: Tensor, block_size: int | Sequence[int], mode: str = "DCR",
                   ndim: int = 2) -> Tensor:
    """Torch twin of :func:`tconv.shuffle.space_to_depth` (ONNX ``SpaceToDepth`` is DCR).

    Args:
        x: ``(*, C, *(S*r))``.
        block_size: ``r``, an int or one int per spatial dim.
        mode: ``"DCR"`` or ``"CRD"`` (:func:`pixel_unshuffle`).
        ndim: number of spatial dims, 1-3.

    Returns:
        ``(*, C*prod(r), *S)``.

    Shape:
        ``(*, C, S_1*r_1, .., S_d*r_d) -> (*, C*prod(r), S_1, .., S_d)``.

    Raises:
        ValueError: as :func:`pixel_unshuffle`, or an unknown mode.

    Examples:
        >>> space_to_depth(torch.arange(4).reshape(1, 1, 2, 2), 2)[0, :, 0, 0]
        tensor([0, 1, 2, 3])
    """
    mode = _check_mode("space_to_depth", mode)
    r = _factors("space_to_depth", block_size, ndim)
    y = _unshuffle(x, r)
    if mode == "DCR":
        phases = 1
        for f in r:
            phases *= f
        y = _swap_channel_order(y, y.shape[y.dim() - ndim - 1] // phases, phases, ndim)
    return y


class PixelShuffle(nn.Module):
    """Module form of :func:`pixel_shuffle` (scriptable, traceable, ONNX-exportable).

    Args:
        upscale_factor: ``r``, an int or one int per spatial dim.
        ndim: number of spatial dims, 1-3.

    Shape:
        ``(*, C*prod(r), *S) -> (*, C, *(S*r))``.

    Examples:
        >>> PixelShuffle(2, ndim=3)(torch.zeros(1, 16, 3, 4, 5)).shape
        torch.Size([1, 2, 6, 8, 10])
    """

    def __init__(self, upscale_factor: int | Sequence[int], ndim: int = 2) -> None:
        super().__init__()
        self.upscale_factor = _factors("PixelShuffle", upscale_factor, ndim)
        self.ndim = ndim

    def forward(self, x: Tensor) -> Tensor:
        return _shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={tuple(self.upscale_factor)}, ndim={self.ndim}"


class PixelUnshuffle(nn.Module):
    """Module form of :func:`pixel_unshuffle`.

    Args:
        downscale_factor: ``r``, an int or one int per spatial dim.
        ndim: number of spatial dims, 1-3.

    Shape:
        ``(*, C, *(S*r)) -> (*, C*prod(r), *S)``.

    Examples:
        >>> PixelUnshuffle(2, ndim=1)(torch.zeros(1, 3, 8)).shape
        torch.Size([1, 6, 4])
    """

    def __init__(self, downscale_factor: int | Sequence[int], ndim: int = 2) -> None:
        super().__init__()
        self.downscale_factor = _factors("PixelUnshuffle", downscale_factor, ndim)
        self.ndim = ndim

    def forward(self, x: Tensor) -> Tensor:
        return _unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={tuple(self.downscale_factor)}, ndim={self.ndim}"

