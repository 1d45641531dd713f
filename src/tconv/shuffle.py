"""Depth-to-space and space-to-depth (pixel shuffle) in NumPy, in both channel orders.

Depth-to-space moves ``prod(r)`` channels into an ``r_1 x .. x r_d`` block of pixels: the
sub-pixel layer of a phase-decomposed transposed convolution. Frameworks agree on the
pixels and differ in which channel feeds which sub-pixel (``C`` output channels, phase
``p`` = row-major index over the block)::

    CRD  (column, row, depth; torch.pixel_shuffle, ONNX mode="CRD")   channel c * prod(r) + p
    DCR  (depth, column, row; ONNX default, TF depth_to_space)          channel p * C + c

As reshapes, with ``S`` the spatial sizes::

    CRD: (N, C*R, *S) -> (N, C, r_1..r_d, S_1..S_d) -> (N, C, S_1, r_1, .., S_d, r_d) -> (N, C, S*r)
    DCR: (N, R*C, *S) -> (N, r_1..r_d, C, S_1..S_d) -> (N, C, S_1, r_1, .., S_d, r_d) -> (N, C, S*r)

Space-to-depth is the inverse permutation (ONNX ``SpaceToDepth`` and TF use DCR;
``torch.pixel_unshuffle`` uses CRD). Arrays are channels-first; TensorFlow's ``NHWC``
``depth_to_space`` is ``np.moveaxis(depth_to_space(np.moveaxis(x, -1, 1), r), 1, -1)``.
"""

from __future__ import annotations

from collections.abc import Sequence as _Sequence

import numpy as _np

from . import _checks
from ._typing import Array, ArrayLike

__all__ = ["MODES", "depth_to_space", "pixel_shuffle", "pixel_unshuffle", "space_to_depth"]

#: The channel orders (``mode=``) of :func:`depth_to_space` and :func:`space_to_depth`.
MODES = ("DCR", "CRD")


def _setup(fn: str, x: ArrayLike, block_size: object, mode: object, ndim: object,
           ) -> tuple[_np.ndarray, list[int], int, str]:
    arr = _checks.as_array(fn, "x", x)
    if not isinstance(mode, str) or mode.upper() not in MODES:
        raise ValueError(f"{fn}: mode={_checks.fmt(mode)} must be 'DCR' or 'CRD'")
    nd = arr.ndim - 2 if ndim is None else ndim
    if isinstance(nd, bool) or not isinstance(nd, int) or not 1 <= nd <= 3:
        raise ValueError(f"{fn}: ndim={_checks.fmt(nd)} must be 1, 2 or 3 (spatial dims)")
    if arr.ndim < nd + 2:
        raise ValueError(f"{fn}: x of shape {arr.shape} must have {nd + 2} dims "
                         f"(N, C, *S) for ndim={nd}")
    if isinstance(block_size, _Sequence) and len(block_size) == 1:
        block_size = block_size[0]
    r = list(_checks.as_int_tuple(fn, "block_size", block_size, nd, minimum=1))
    return arr, r, nd, mode.upper()


def depth_to_space(x: ArrayLike, block_size: int | tuple[int, ...], mode: str = "DCR",
                   ndim: int | None = None) -> Array:
    """Move channels into blocks of pixels (ONNX ``DepthToSpace``, TF ``depth_to_space``).

    Each output pixel block ``r_1 x .. x r_d`` is filled from ``prod(r)`` input channels of
    the same input pixel; ``mode`` says which channel goes where (module docstring).

    Args:
        x: ``(*B, C * prod(r), *S)`` array (channels first, any leading batch dims).
        block_size: ``r``, an int or one int per spatial dim.
        mode: ``"DCR"`` (ONNX's default, TensorFlow) or ``"CRD"`` (``torch.pixel_shuffle``).
        ndim: number of spatial dims (default ``x.ndim - 2``).

    Returns:
        The rearranged array, same dtype.

    Shape:
        ``(*B, C * prod(r), S_1, .., S_d) -> (*B, C, S_1 * r_1, .., S_d * r_d)``.

    Convention:
        ``mode="CRD"`` equals ``torch.nn.functional.pixel_shuffle`` (2-D) and
        ``tconv.nn.pixel_shuffle`` (1-3-D); ``mode="DCR"`` equals ONNX ``DepthToSpace``
        with its default mode and TF ``depth_to_space`` after moving channels last.

    Raises:
        ValueError: channels not divisible by ``prod(r)``, bad ``mode``/``ndim``/rank.

    Examples:
        >>> import numpy as np
        >>> x = np.arange(8).reshape(1, 8, 1, 1)          # 2 output channels, r = 2
        >>> depth_to_space(x, 2, "DCR")[0, 0]
        array([[0, 2],
               [4, 6]])
        >>> depth_to_space(x, 2, "CRD")[0, 0]
        array([[0, 1],
               [2, 3]])
    """
    fn = "depth_to_space"
    arr, r, nd, mode = _setup(fn, x, block_size, mode, ndim)
    lead = arr.ndim - nd - 1
    batch, channels, size = arr.shape[:lead], arr.shape[lead], arr.shape[lead + 1:]
    phases = int(_np.prod(r))
    if channels % phases:
        raise ValueError(f"{fn}: x has {channels} channels, not divisible by "
                         f"prod(block_size)={phases} (block_size={tuple(r)})")
    c = channels // phases
    if mode == "CRD":
        y = arr.reshape(batch + (c, *r) + size)             # (*B, C, r.., S..)
        c_axis, r_axes = lead, [lead + 1 + i for i in range(nd)]
    else:
        y = arr.reshape(batch + (*r, c) + size)             # (*B, r.., C, S..)
        c_axis, r_axes = lead + nd, [lead + i for i in range(nd)]
    perm = list(range(lead)) + [c_axis]
    for i in range(nd):                                     # (S_i, r_i) pairs
        perm += [lead + 1 + nd + i, r_axes[i]]
    out = tuple(s * f for s, f in zip(size, r))
    return y.transpose(perm).reshape(batch + (c,) + out)


def space_to_depth(x: ArrayLike, block_size: int | tuple[int, ...], mode: str = "DCR",
                   ndim: int | None = None) -> Array:
    """Move blocks of pixels into channels: the inverse of :func:`depth_to_space`.

    Args:
        x: ``(*B, C, *S)`` with every ``S_i`` divisible by ``r_i``.
        block_size: ``r``, an int or one int per spatial dim.
        mode: ``"DCR"`` (ONNX ``SpaceToDepth``, TF) or ``"CRD"`` (``torch.pixel_unshuffle``).
        ndim: number of spatial dims (default ``x.ndim - 2``).

    Returns:
        The rearranged array, same dtype.

    Shape:
        ``(*B, C, S_1, .., S_d) -> (*B, C * prod(r), S_1 / r_1, .., S_d / r_d)``.

    Convention:
        ``space_to_depth(depth_to_space(x, r, m), r, m) == x`` for either mode ``m``.

    Raises:
        ValueError: a spatial size not divisible by its block size.

    Examples:
        >>> import numpy as np
        >>> space_to_depth(np.arange(8).reshape(1, 1, 2, 4), 2, "CRD")[0, :, 0]
        array([[0, 2],
               [1, 3],
               [4, 6],
               [5, 7]])
    """
    fn = "space_to_depth"
    arr, r, nd, mode = _setup(fn, x, block_size, mode, ndim)
    lead = arr.ndim - nd - 1
    batch, channels, size = arr.shape[:lead], arr.shape[lead], arr.shape[lead + 1:]
    if any(s % f for s, f in zip(size, r)):
        raise ValueError(f"{fn}: spatial size {tuple(size)} must be divisible by "
                         f"block_size={tuple(r)} in every dim")
    split: list[int] = []
    for s, f in zip(size, r):
        split += [s // f, f]
    y = arr.reshape(batch + (channels, *split))             # (*B, C, S_1', r_1, ..)
    s_axes = [lead + 1 + 2 * i for i in range(nd)]
    r_axes = [lead + 2 + 2 * i for i in range(nd)]
    if mode == "CRD":
        perm = list(range(lead)) + [lead] + r_axes + s_axes
    else:
        perm = list(range(lead)) + r_axes + [lead] + s_axes
    out = tuple(s // f for s, f in zip(size, r))
    return y.transpose(perm).reshape(batch + (channels * int(_np.prod(r)),) + out)


def pixel_shuffle(x: ArrayLike, upscale_factor: int | tuple[int, ...],
                  ndim: int | None = None) -> Array:
    """``torch.nn.functional.pixel_shuffle`` in NumPy, 1-3-D: ``depth_to_space(mode="CRD")``.

    Args:
        x: ``(*B, C * prod(r), *S)``.
        upscale_factor: ``r``, an int or one per spatial dim.
        ndim: number of spatial dims (default ``x.ndim - 2``).

    Returns:
        ``(*B, C, *(S * r))``.

    Shape:
        As :func:`depth_to_space`.

    Raises:
        ValueError: as :func:`depth_to_space`.

    Examples:
        >>> import numpy as np
        >>> pixel_shuffle(np.arange(4).reshape(1, 4, 1, 1), 2)[0, 0]
        array([[0, 1],
               [2, 3]])
    """
    return depth_to_space(x, upscale_factor, "CRD", ndim)


def pixel_unshuffle(x: ArrayLike, downscale_factor: int | tuple[int, ...],
                    ndim: int | None = None) -> Array:
    """``torch.nn.functional.pixel_unshuffle`` in NumPy, 1-3-D: ``space_to_depth(mode="CRD")``.

    Args:
        x: ``(*B, C, *S)``.
        downscale_factor: ``r``, an int or one per spatial dim.
        ndim: number of spatial dims (default ``x.ndim - 2``).

    Returns:
        ``(*B, C * prod(r), *(S / r))``.

    Shape:
        As :func:`space_to_depth`.

    Raises:
        ValueError: as :func:`space_to_depth`.

    Examples:
        >>> import numpy as np
        >>> pixel_unshuffle(np.arange(4).reshape(1, 1, 2, 2), 2)[0, :, 0, 0]
        array([0, 1, 2, 3])
    """
    return space_to_depth(x, downscale_factor, "CRD", ndim)
